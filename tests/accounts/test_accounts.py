"""Accounts on SQLite and on a real PostgreSQL: people, roles, lock-out, sessions, devices, audit."""

from __future__ import annotations

import pytest
from sqlalchemy import text
from sqlalchemy.exc import DBAPIError

from edge_all.accounts import audit, people
from edge_all.accounts.audit import SYSTEM
from edge_all.accounts.devices import Devices, EnrolmentRefused
from edge_all.accounts.passwords import PasswordError
from edge_all.accounts.people import AccountError, Accounts, LoginRefused
from edge_all.accounts.sessions import Sessions

PASSWORD = "correct horse battery"


@pytest.fixture
def accounts(engine) -> Accounts:
    accounts = Accounts(engine)
    accounts.add_clinic("kisumu-1", "Kisumu clinic", SYSTEM)
    accounts.add_clinic("eldoret-2", "Eldoret clinic", SYSTEM)
    accounts.add_clinic("nakuru-3", "Nakuru clinic", SYSTEM)
    return accounts


def test_roles_decide_which_clinics_a_person_sees(accounts):
    tech = accounts.add_person("tom", "Tom", "technician", PASSWORD, ("kisumu-1",), SYSTEM)
    doc = accounts.add_person("ada", "Dr Ada", "specialist", PASSWORD, ("kisumu-1", "eldoret-2"), SYSTEM)
    admin = accounts.add_person("root", "Admin", "administrator", PASSWORD, (), SYSTEM)
    assert tech.may_see("kisumu-1") and not tech.may_see("eldoret-2")
    assert doc.may_see("eldoret-2") and not doc.may_see("nakuru-3")
    assert admin.may_see("nakuru-3")
    assert accounts.count_administrators() == 1
    accounts.assign("ada", ("nakuru-3",), SYSTEM)
    assert accounts.person("ada").clinics == ("nakuru-3",)


@pytest.mark.parametrize(
    ("username", "role", "clinics", "message"),
    [
        ("bad name", "specialist", (), "a username is"),
        ("tom", "nurse", (), "a role is one of"),
        ("tom", "technician", (), "exactly one clinic"),
        ("tom", "technician", ("kisumu-1", "eldoret-2"), "exactly one clinic"),
        ("tom", "specialist", ("nowhere",), "no clinic nowhere"),
    ],
)
def test_impossible_accounts_are_refused_with_one_line(accounts, username, role, clinics, message):
    with pytest.raises(AccountError, match=message):
        accounts.add_person(username, "x", role, PASSWORD, clinics, SYSTEM)
    assert accounts.people() == []


def test_short_passwords_and_twice_used_names_are_refused(accounts):
    with pytest.raises(PasswordError, match="at least 10"):
        accounts.add_person("ada", "Ada", "specialist", "short", (), SYSTEM)
    accounts.add_person("ada", "Ada", "specialist", PASSWORD, (), SYSTEM)
    with pytest.raises(AccountError, match="already an account"):
        accounts.add_person("ada", "Ada 2", "specialist", PASSWORD, (), SYSTEM)
    with pytest.raises(AccountError, match="already a clinic"):
        accounts.add_clinic("kisumu-1", "again", SYSTEM)


def test_the_password_is_stored_only_as_an_argon2_hash(accounts, engine):
    accounts.add_person("ada", "Ada", "specialist", PASSWORD, (), SYSTEM)
    with engine.connect() as connection:
        stored = connection.execute(text("SELECT password_hash FROM people")).scalar_one()
    assert stored.startswith("$argon2id$") and PASSWORD not in stored


def test_login_lock_out_after_five_failures_refuses_even_the_right_password(accounts, engine):
    accounts.add_person("ada", "Ada", "specialist", PASSWORD, (), SYSTEM)
    assert accounts.authenticate("ada", PASSWORD, "10.0.0.5").username == "ada"
    for _ in range(people.MAX_FAILURES - 1):
        with pytest.raises(LoginRefused) as refused:
            accounts.authenticate("ada", "wrong password!", "10.0.0.5")
        assert not refused.value.locked
    with pytest.raises(LoginRefused) as refused:
        accounts.authenticate("ada", "wrong password!", "10.0.0.5")
    assert refused.value.locked
    with pytest.raises(LoginRefused) as refused:
        accounts.authenticate("ada", PASSWORD, "10.0.0.5")
    assert refused.value.locked
    # An administrator's new password lifts the lock.
    accounts.set_password("ada", "another long password", SYSTEM)
    assert accounts.authenticate("ada", "another long password", "10.0.0.5").username == "ada"
    actions = [entry.action for entry in audit.entries(engine)]
    assert actions.count("login refused") == people.MAX_FAILURES + 1
    assert "lock-out" in actions and actions.count("login") == 2
    assert all(entry.client == "10.0.0.5" for entry in audit.entries(engine, action="login"))


def test_unknown_and_disabled_accounts_cannot_log_in(accounts):
    with pytest.raises(LoginRefused):
        accounts.authenticate("nobody", PASSWORD, "127.0.0.1")
    accounts.add_person("ada", "Ada", "specialist", PASSWORD, (), SYSTEM)
    accounts.set_active("ada", False, SYSTEM)
    with pytest.raises(LoginRefused):
        accounts.authenticate("ada", PASSWORD, "127.0.0.1")


def test_sessions_are_stored_as_digests_and_end_with_the_account(accounts, engine):
    person = accounts.add_person("ada", "Ada", "specialist", PASSWORD, ("kisumu-1",), SYSTEM)
    sessions = Sessions(engine, accounts)
    session = sessions.start(person, "127.0.0.1")
    assert sessions.get(session.token).person.username == "ada"
    assert sessions.get("not a token") is None and sessions.get(None) is None
    with engine.connect() as connection:
        stored = connection.execute(text("SELECT token_sha256 FROM web_sessions")).scalar_one()
    assert stored != session.token and len(stored) == 64
    accounts.set_active("ada", False, SYSTEM)
    assert sessions.get(session.token) is None
    accounts.set_active("ada", True, SYSTEM)
    again = sessions.start(person, "127.0.0.1")
    sessions.end(again.token)
    assert sessions.get(again.token) is None


def test_a_device_enrols_once_with_its_code_and_stops_working_when_revoked(accounts, engine):
    devices = Devices(engine)
    code = devices.issue_code("kisumu-1", "pi-kisumu", SYSTEM)
    enrolment = devices.enrol(code, "10.0.0.9")
    assert enrolment.device.clinic_id == "kisumu-1"
    assert devices.by_token(enrolment.token) == enrolment.device
    with pytest.raises(EnrolmentRefused, match="already used"):
        devices.enrol(code, "10.0.0.9")
    with pytest.raises(EnrolmentRefused, match="unknown"):
        devices.enrol("guessed", "10.0.0.9")
    with engine.connect() as connection:
        stored = connection.execute(text("SELECT token_sha256 FROM devices")).scalar_one()
    assert enrolment.token not in stored
    devices.revoke(enrolment.device.id, SYSTEM)
    assert devices.by_token(enrolment.token) is None
    actions = [entry.action for entry in audit.entries(engine)]
    assert {"issue enrolment code", "enrol", "enrolment refused", "revoke device"} <= set(actions)


def test_the_audit_trail_refuses_update_and_delete_by_the_application(accounts, engine):
    accounts.add_person("ada", "Ada", "specialist", PASSWORD, (), SYSTEM)
    before = audit.entries(engine)
    assert before
    for statement in ("UPDATE audit SET actor = 'someone else'", "DELETE FROM audit"):
        with pytest.raises(DBAPIError), engine.begin() as connection:
            connection.execute(text(statement))
    assert audit.entries(engine) == before


def test_on_postgresql_even_the_owner_cannot_rewrite_the_audit(postgres):
    from edge_all.accounts import migrate
    from edge_all.accounts.database import open_engine

    owner_url, _ = postgres.new_database("audit_owner")
    owner = open_engine(owner_url)
    migrate.upgrade(owner, target="accounts@head")
    Accounts(owner).add_clinic("kisumu-1", "Kisumu", SYSTEM)
    for statement in ("UPDATE audit SET actor = 'x'", "DELETE FROM audit", "TRUNCATE audit"):
        with pytest.raises(DBAPIError, match="append-only"), owner.begin() as connection:
            connection.execute(text(statement))
    assert len(audit.entries(owner)) == 1
    owner.dispose()
