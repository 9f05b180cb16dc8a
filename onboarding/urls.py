"""Routes of the onboarding endpoints that need no balances (see transactions.urls too)."""

from django.urls import path

from onboarding.api import views

ORGS = "organizations"
OL = "organizations/<str:organization_id>/ledgers"
L = "organizations/<str:organization_id>/ledgers/<str:ledger_id>"

urlpatterns = [
    path(f"{ORGS}", views.OrganizationCollection.as_view()),
    path(f"{ORGS}/metrics/count", views.OrganizationCount.as_view()),
    path(f"{ORGS}/<str:id>", views.OrganizationItem.as_view()),
    path(f"{OL}", views.LedgerCollection.as_view()),
    path(f"{OL}/metrics/count", views.LedgerCount.as_view()),
    path(f"{L}", views.LedgerItem.as_view()),
    path(f"{L}/settings", views.LedgerSettingsView.as_view()),
    path(f"{L}/portfolios", views.PortfolioCollection.as_view()),
    path(f"{L}/portfolios/metrics/count", views.PortfolioCount.as_view()),
    path(f"{L}/portfolios/<str:id>", views.PortfolioItem.as_view()),
    path(f"{L}/segments", views.SegmentCollection.as_view()),
    path(f"{L}/segments/metrics/count", views.SegmentCount.as_view()),
    path(f"{L}/segments/<str:id>", views.SegmentItem.as_view()),
    path(f"{L}/account-types", views.AccountTypeCollection.as_view()),
    path(f"{L}/account-types/<str:id>", views.AccountTypeItem.as_view()),
]
