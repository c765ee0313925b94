from django.urls import path

from . import search_views, views

app_name = "leaderboard"
urlpatterns = [
    path("", views.home, name="home"),
    path("tasks/", views.task_list, name="task-list"),
    path("tasks/<slug:slug>/", views.task_detail, name="task"),
    path("datasets/", views.dataset_list, name="dataset-list"),
    path("datasets/<slug:slug>/", views.dataset_detail, name="dataset"),
    path("benchmarks/<slug:slug>/", views.benchmark_detail, name="benchmark"),
    path("papers/", views.paper_list, name="paper-list"),
    path("papers/<slug:slug>/", views.paper_detail, name="paper"),
    path("search/", search_views.search_page, name="search"),
]
