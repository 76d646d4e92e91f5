"""The two browser pages; all their data comes from the REST API and the sockets."""

from django.shortcuts import render
from django.views.decorators.http import require_GET


@require_GET
def student_page(request):
    return render(request, "web/student.html")


@require_GET
def proctor_page(request):
    return render(request, "web/proctor.html")
