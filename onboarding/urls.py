"""Routes of the onboarding endpoints that need no balances (see transactions.urls too).

``urlpatterns`` are relative to ``/v1/``; ``ledger_urlpatterns`` to
``/v1/organizations/<organization_id>/ledgers/<ledger_id>/`` (``midaz.urls`` mounts them).
"""

from django.urls import path

from onboarding.api import views

ORGS = "organizations"
OL = "organizations/<str:organization_id>/ledgers"

urlpatterns = [
    path(f"{ORGS}", views.OrganizationCollection.as_view()),
    path(f"{ORGS}/metrics/count", views.OrganizationCount.as_view()),
    path(f"{ORGS}/<str:id>", views.OrganizationItem.as_view()),
    path(f"{OL}", views.LedgerCollection.as_view()),
    path(f"{OL}/metrics/count", views.LedgerCount.as_view()),
    path(f"{OL}/<str:ledger_id>", views.LedgerItem.as_view()),
]

ledger_urlpatterns = [
    path("settings", views.LedgerSettingsView.as_view()),
    path("portfolios", views.PortfolioCollection.as_view()),
    path("portfolios/metrics/count", views.PortfolioCount.as_view()),
    path("portfolios/<str:id>", views.PortfolioItem.as_view()),
    path("segments", views.SegmentCollection.as_view()),
    path("segments/metrics/count", views.SegmentCount.as_view()),
    path("segments/<str:id>", views.SegmentItem.as_view()),
    path("account-types", views.AccountTypeCollection.as_view()),
    path("account-types/<str:id>", views.AccountTypeItem.as_view()),
]
