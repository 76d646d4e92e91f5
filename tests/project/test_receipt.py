"""project/receipt.py: a request carries the moment it was received, stamped before the view runs."""

from django.test import RequestFactory

from exams import clock
from project.receipt import received_at_middleware


def test_a_sync_request_is_stamped_before_its_view():
    seen = {}

    def view(request):
        seen["received_at"], seen["view_ran_at"] = request.received_at, clock.now()
        return "response"

    before = clock.now()
    assert received_at_middleware(view)(RequestFactory().get("/")) == "response"
    assert before <= seen["received_at"] <= seen["view_ran_at"]


async def test_an_async_request_is_stamped_before_its_view():
    seen = {}

    async def view(request):
        seen["received_at"], seen["view_ran_at"] = request.received_at, clock.now()
        return "response"

    middleware = received_at_middleware(view)
    before = clock.now()
    assert await middleware(RequestFactory().get("/")) == "response"
    assert before <= seen["received_at"] <= seen["view_ran_at"]
