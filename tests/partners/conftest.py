import pytest

from conftest import authed_client
from tests.factories.partners import PartnerFactory


@pytest.fixture
def partner(db):
    return PartnerFactory()


@pytest.fixture
def partner_client(partner):
    return authed_client(partner.user)


@pytest.fixture
def other_partner(db):
    return PartnerFactory()
