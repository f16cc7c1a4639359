"""Refund policy: percentages at each boundary, rounding, validation, versions."""

from datetime import UTC, datetime, timedelta

import pytest
from django.core.exceptions import ValidationError

from refunds.models import RefundPolicy, default_tiers
from refunds.policy import refund_amount, refund_percent, validate_tiers
from tests.factories.refunds import RefundPolicyFactory

SLOT_START = datetime(2026, 12, 1, 10, 0, tzinfo=UTC)
H = timedelta(hours=1)
S = timedelta(seconds=1)


def default_policy() -> RefundPolicy:
    return RefundPolicy(tiers=default_tiers(), provider_cancel_percent=100, unassigned_percent=100)


@pytest.mark.parametrize(
    ("notice", "expected"),
    [
        (72 * H, 100),
        (24 * H, 100),
        (24 * H - S, 50),
        (12 * H, 50),
        (12 * H - S, 0),
        (S, 0),
        (timedelta(0), 0),
        (-S, 0),  # after the slot started
        (-5 * H, 0),
    ],
    ids=lambda v: str(v),
)
def test_customer_percent_follows_default_tiers_to_the_second(notice, expected):
    percent = refund_percent(
        policy=default_policy(),
        by="customer",
        staff_assigned=True,
        now=SLOT_START - notice,
        slot_start=SLOT_START,
    )
    assert percent == expected


@pytest.mark.parametrize("notice", [48 * H, 24 * H - S, 12 * H - S, -H])
def test_customer_cancel_before_staff_assigned_gets_unassigned_percent(notice):
    policy = default_policy()
    policy.unassigned_percent = 90
    now = SLOT_START - notice
    assert (
        refund_percent(
            policy=policy, by="customer", staff_assigned=False, now=now, slot_start=SLOT_START
        )
        == 90
    )


@pytest.mark.parametrize("notice", [48 * H, 12 * H - S, -H])
@pytest.mark.parametrize("staff_assigned", [True, False])
def test_provider_cancel_gets_provider_percent_whatever_the_notice(notice, staff_assigned):
    policy = default_policy()
    assert (
        refund_percent(
            policy=policy,
            by="provider",
            staff_assigned=staff_assigned,
            now=SLOT_START - notice,
            slot_start=SLOT_START,
        )
        == 100
    )
    policy.provider_cancel_percent = 80
    assert (
        refund_percent(
            policy=policy,
            by="provider",
            staff_assigned=staff_assigned,
            now=SLOT_START - notice,
            slot_start=SLOT_START,
        )
        == 80
    )


@pytest.mark.parametrize(
    ("notice", "expected"),
    [(25 * H, 75), (24 * H, 75), (24 * H - S, 0), (H, 0), (-H, 0)],
    ids=lambda v: str(v),
)
def test_custom_policy_75_above_24h_and_0_below(notice, expected):
    policy = RefundPolicy(
        tiers=[{"min_hours_before": 24, "percent": 75}, {"min_hours_before": 0, "percent": 0}],
        provider_cancel_percent=100,
        unassigned_percent=100,
    )
    percent = refund_percent(
        policy=policy,
        by="customer",
        staff_assigned=True,
        now=SLOT_START - notice,
        slot_start=SLOT_START,
    )
    assert percent == expected


@pytest.mark.parametrize(
    ("amount", "percent", "expected"),
    [
        (49900, 100, 49900),
        (49900, 50, 24950),
        (49900, 0, 0),
        (101, 50, 51),  # 50.5 -> 51: the half goes to the customer
        (99, 50, 50),  # 49.5 -> 50
        (1, 50, 1),  # 0.5 -> 1
        (3, 50, 2),  # 1.5 -> 2
        (10, 33, 3),  # 3.3 -> 3: only halves round up
        (10, 35, 4),  # 3.5 -> 4
        (10, 34, 3),  # 3.4 -> 3
        (10, 36, 4),  # 3.6 -> 4
        (12345, 75, 9259),  # 9258.75 -> 9259
        (0, 50, 0),
    ],
)
def test_refund_amount_is_integer_and_rounds_halves_for_the_customer(amount, percent, expected):
    result = refund_amount(amount, percent)
    assert result == expected
    assert isinstance(result, int)


@pytest.mark.parametrize(("amount", "percent"), [(-1, 50), (100, 101), (100, -1)])
def test_refund_amount_rejects_out_of_range_input(amount, percent):
    with pytest.raises(ValueError):
        refund_amount(amount, percent)


@pytest.mark.parametrize(
    "tiers",
    [
        default_tiers(),
        [{"min_hours_before": 0, "percent": 100}],
        [{"min_hours_before": 24, "percent": 75}, {"min_hours_before": 0, "percent": 0}],
        [{"min_hours_before": 1.5, "percent": 10}, {"min_hours_before": 0, "percent": 0}],
    ],
)
def test_valid_tiers_pass(tiers):
    validate_tiers(tiers)


@pytest.mark.parametrize(
    "tiers",
    [
        [],
        "100",
        [{"min_hours_before": 24, "percent": 100}],  # does not end at 0
        [{"min_hours_before": 12, "percent": 50}, {"min_hours_before": 24, "percent": 100}],
        [{"min_hours_before": 12, "percent": 50}, {"min_hours_before": 12, "percent": 40}],
        [{"min_hours_before": -1, "percent": 50}],
        [{"min_hours_before": 0, "percent": 101}],
        [{"min_hours_before": 0, "percent": -5}],
        [{"min_hours_before": 0, "percent": 50.5}],
        [{"min_hours_before": "24", "percent": 50}],
        [{"min_hours_before": 0, "percent": True}],
        [{"min_hours_before": 0}],
        [{"min_hours_before": 0, "percent": 0, "extra": 1}],
    ],
)
def test_invalid_tiers_are_rejected(tiers):
    with pytest.raises(ValidationError):
        validate_tiers(tiers)


@pytest.mark.django_db
def test_model_clean_reports_tiers_and_percent_errors_per_field():
    policy = RefundPolicy(
        tiers=[{"min_hours_before": 5, "percent": 50}],
        provider_cancel_percent=100,
        unassigned_percent=100,
    )
    with pytest.raises(ValidationError) as exc:
        policy.full_clean()
    assert "tiers" in exc.value.message_dict
    policy = RefundPolicy(
        tiers=default_tiers(), provider_cancel_percent=120, unassigned_percent=100
    )
    with pytest.raises(ValidationError) as exc:
        policy.full_clean()
    assert "provider_cancel_percent" in exc.value.message_dict


@pytest.mark.django_db
def test_default_policy_v1_is_created_active_by_the_migration():
    policy = RefundPolicy.objects.get(active=True)
    assert policy.version == 1
    assert policy.tiers == default_tiers()
    assert (policy.provider_cancel_percent, policy.unassigned_percent) == (100, 100)


@pytest.mark.django_db
def test_saving_a_new_active_version_deactivates_the_previous_one():
    first = RefundPolicy.objects.get(active=True)
    second = RefundPolicyFactory(
        tiers=[{"min_hours_before": 24, "percent": 75}, {"min_hours_before": 0, "percent": 0}]
    )
    assert second.version == first.version + 1
    first.refresh_from_db()
    assert not first.active
    assert list(RefundPolicy.objects.filter(active=True)) == [second]
    # An inactive new version changes nothing.
    third = RefundPolicyFactory(active=False)
    assert third.version == second.version + 1
    assert list(RefundPolicy.objects.filter(active=True)) == [second]
