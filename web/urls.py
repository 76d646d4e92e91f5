from django.urls import path

from . import views

urlpatterns = [
    path("", views.student_page, name="student-page"),
    path("proctor/", views.proctor_page, name="proctor-page"),
]
