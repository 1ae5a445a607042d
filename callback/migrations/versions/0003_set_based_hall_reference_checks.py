"""set-based hall reference checks

A foreign key is checked once per inserted row (~4 µs each on PostgreSQL, a query of its own): a million-row
ledger import spent 18.6 s of backend CPU on COPY into cases with its three keys against 5.9 s without, and
10.5 s against 6.0 s on contacts. So the references

    cases (hall_id, window_id)  → windows (hall_id, id)     (was fk_cases_hall_window_windows)
    cases (hall_id, staff_id)   → staff (hall_id, id)       (was fk_cases_hall_staff_staff; NULL staff passes)
    cases (hall_id, contact_id) → contacts (hall_id, id)    (was fk_cases_contact_id_contacts, which did not
                                                             check the hall; NULL contact passes)
    contacts (hall_id)          → halls (id)                (was fk_contacts_hall_id_halls)

become statement-level triggers on PostgreSQL: AFTER INSERT / AFTER UPDATE ... FOR EACH STATEMENT with a transition
table, which check each *distinct* reference of the statement once (a few hundred windows and staff, not a
million rows). They raise SQLSTATE 23503 (foreign_key_violation) like the keys did, so callers still see an
IntegrityError, and the whole statement (a COPY, a multi-row INSERT) is refused.

The referenced side keeps what ON DELETE NO ACTION / RESTRICT gave: deleting a referenced window, staff member,
contact or hall fails (an AFTER DELETE statement check against the deleted rows), and the keys those rows are
referenced by (windows, staff and contacts (id, hall_id), halls.id) can no longer change at all: simpler than
checking references on every update, and nothing changes them. Since a contact's hall cannot change, updates of
contacts (opt-outs, last contact times) need no hall check: only inserts are checked.

A foreign key locks the referenced row (FOR KEY SHARE) when it checks a new row; these checks read without
locks. Without more, this race would break the rule: an import inserts a case for window W and has not committed;
another session deletes W, its check does not see the uncommitted case and passes; the import commits a case
whose window is gone. So a delete on windows, staff or contacts first takes LOCK TABLE cases IN SHARE MODE (a
delete on halls: contacts), which waits for every transaction that has written cases and is not finished, and keeps new
writers out until the delete commits; the check then runs on a fresh snapshot (READ COMMITTED, the default)
and sees the committed case. Deletes of windows, staff and halls are rare administrative acts, so a table lock
is cheap where it is taken, and the import pays nothing for it.

The contact check probes the contacts primary key once per distinct contact of the statement (nested loops
forced: the transition table has no statistics, and a hash join would read every contact of the hall for each
import batch); measured on a million-row import it costs 7.1 s of COPY against 11.8 s with the foreign key.
Other keys to contacts (callbacks) stay real foreign keys. SQLite, the embedded demo backend,
has no statement-level triggers: there the same rules are row-level BEFORE triggers, which is fine at its sizes.
The unique keys uq_windows_hall_id_id and uq_staff_hall_id_id stay: they index the checks.

Revision ID: 0003
Revises: 0002
Create Date: 2026-11-27 09:00:00.000000
"""

from alembic import op

revision = '0003'
down_revision = '0002'
branch_labels = None
depends_on = None

# --- PostgreSQL: statement-level checks ---------------------------------------------------------------------

# AFTER DELETE on a referenced table: no deleted row may still be referenced (the delete took the lock first)
_UNREFERENCED = """
    CREATE FUNCTION {table}_check_unreferenced() RETURNS trigger LANGUAGE plpgsql AS $$
    DECLARE
      bad record;
    BEGIN
      SELECT o.id INTO bad FROM old_rows o WHERE EXISTS (SELECT FROM {referencing} c WHERE {match}) LIMIT 1;
      IF FOUND THEN
        RAISE EXCEPTION '{table}: row id=% {what}', bad.id
          USING ERRCODE = 'foreign_key_violation', TABLE = '{referencing}', CONSTRAINT = '{constraint}';
      END IF;
      RETURN NULL;
    END $$
    """

_PG_FUNCTIONS = (
    # a case's window, staff member and contact must belong to the case's hall; one probe per distinct triple,
    # then one per distinct contact
    """
    CREATE FUNCTION cases_check_hall_refs() RETURNS trigger LANGUAGE plpgsql
      SET enable_hashjoin = off SET enable_mergejoin = off AS $$
    DECLARE
      bad record;
    BEGIN
      SELECT r.hall_id, r.window_id, r.staff_id,
             NOT EXISTS (SELECT FROM windows w WHERE w.hall_id = r.hall_id AND w.id = r.window_id) AS bad_window
        INTO bad
        FROM (SELECT DISTINCT hall_id, window_id, staff_id FROM new_rows) r
       WHERE NOT EXISTS (SELECT FROM windows w WHERE w.hall_id = r.hall_id AND w.id = r.window_id)
          OR (r.staff_id IS NOT NULL
              AND NOT EXISTS (SELECT FROM staff s WHERE s.hall_id = r.hall_id AND s.id = r.staff_id))
       LIMIT 1;
      IF NOT FOUND THEN
        SELECT r.hall_id, r.contact_id INTO bad
          FROM (SELECT DISTINCT hall_id, contact_id FROM new_rows WHERE contact_id IS NOT NULL) r
         WHERE NOT EXISTS (SELECT FROM contacts c WHERE c.id = r.contact_id AND c.hall_id = r.hall_id)
         LIMIT 1;
        IF FOUND THEN
          RAISE EXCEPTION 'cases: contact (hall_id=%, contact_id=%) is not a contact of that hall',
                          bad.hall_id, bad.contact_id
            USING ERRCODE = 'foreign_key_violation', TABLE = 'cases', CONSTRAINT = 'cases_hall_contact_check';
        END IF;
        RETURN NULL;
      ELSIF bad.bad_window THEN
        RAISE EXCEPTION 'cases: window (hall_id=%, window_id=%) is not a window of that hall',
                        bad.hall_id, bad.window_id
          USING ERRCODE = 'foreign_key_violation', TABLE = 'cases', CONSTRAINT = 'cases_hall_window_check';
      ELSE
        RAISE EXCEPTION 'cases: staff (hall_id=%, staff_id=%) is not a staff member of that hall',
                        bad.hall_id, bad.staff_id
          USING ERRCODE = 'foreign_key_violation', TABLE = 'cases', CONSTRAINT = 'cases_hall_staff_check';
      END IF;
    END $$
    """,
    """
    CREATE FUNCTION contacts_check_hall_ref() RETURNS trigger LANGUAGE plpgsql AS $$
    DECLARE
      bad record;
    BEGIN
      SELECT r.hall_id INTO bad
        FROM (SELECT DISTINCT hall_id FROM new_rows) r
       WHERE NOT EXISTS (SELECT FROM halls h WHERE h.id = r.hall_id)
       LIMIT 1;
      IF FOUND THEN
        RAISE EXCEPTION 'contacts: hall (hall_id=%) does not exist', bad.hall_id
          USING ERRCODE = 'foreign_key_violation', TABLE = 'contacts', CONSTRAINT = 'contacts_hall_check';
      END IF;
      RETURN NULL;
    END $$
    """,
    # BEFORE DELETE on a referenced table: wait for the uncommitted writers of the referencing table (TG_ARGV[0])
    # and keep new ones out until this transaction ends; see the race in the module docstring
    """
    CREATE FUNCTION hall_refs_lock_referencing() RETURNS trigger LANGUAGE plpgsql AS $$
    BEGIN
      EXECUTE format('LOCK TABLE %I IN SHARE MODE', TG_ARGV[0]);
      RETURN NULL;
    END $$
    """,
    *(
        _UNREFERENCED.format(table=table, referencing=referencing, match=match, what=what, constraint=constraint)
        for table, referencing, match, what, constraint in (
            ("windows", "cases", "c.hall_id = o.hall_id AND c.window_id = o.id", "is still the window of cases",
             "cases_hall_window_check"),
            ("staff", "cases", "c.hall_id = o.hall_id AND c.staff_id = o.id", "is still the staff of cases",
             "cases_hall_staff_check"),
            ("contacts", "cases", "c.contact_id = o.id", "is still the contact of cases", "cases_hall_contact_check"),
            ("halls", "contacts", "c.hall_id = o.id", "still has contacts", "contacts_hall_check"),
        )
    ),
    # fired only when the key really changes (the trigger's WHEN); TG_ARGV[0] names what refers to the key
    """
    CREATE FUNCTION hall_refs_key_immutable() RETURNS trigger LANGUAGE plpgsql AS $$
    BEGIN
      RAISE EXCEPTION '%: the key of row id=% cannot change (% refer to it)', TG_TABLE_NAME, OLD.id, TG_ARGV[0]
        USING ERRCODE = 'foreign_key_violation', TABLE = TG_TABLE_NAME;
    END $$
    """,
)

# (trigger name, table, definition after "CREATE TRIGGER name"); transition tables cannot go with a column list
# (AFTER UPDATE OF ...), so the update check of cases fires on every update of cases, and costs little there
_PG_TRIGGERS = (
    ("cases_hall_refs_insert", "cases", "AFTER INSERT ON cases REFERENCING NEW TABLE AS new_rows "
                                        "FOR EACH STATEMENT EXECUTE FUNCTION cases_check_hall_refs()"),
    ("cases_hall_refs_update", "cases", "AFTER UPDATE ON cases REFERENCING NEW TABLE AS new_rows "
                                        "FOR EACH STATEMENT EXECUTE FUNCTION cases_check_hall_refs()"),
    ("contacts_hall_ref_insert", "contacts", "AFTER INSERT ON contacts REFERENCING NEW TABLE AS new_rows "
                                             "FOR EACH STATEMENT EXECUTE FUNCTION contacts_check_hall_ref()"),
    ("contacts_delete_lock_cases", "contacts", "BEFORE DELETE ON contacts FOR EACH STATEMENT "
                                               "EXECUTE FUNCTION hall_refs_lock_referencing('cases')"),
    ("contacts_delete_unreferenced", "contacts", "AFTER DELETE ON contacts REFERENCING OLD TABLE AS old_rows "
                                                 "FOR EACH STATEMENT EXECUTE FUNCTION contacts_check_unreferenced()"),
    ("contacts_key_immutable", "contacts", "BEFORE UPDATE OF id, hall_id ON contacts FOR EACH ROW "
                                           "WHEN (OLD.id IS DISTINCT FROM NEW.id OR OLD.hall_id IS DISTINCT FROM NEW.hall_id) "
                                           "EXECUTE FUNCTION hall_refs_key_immutable('cases')"),
    ("windows_delete_lock_cases", "windows", "BEFORE DELETE ON windows "
                                             "FOR EACH STATEMENT EXECUTE FUNCTION hall_refs_lock_referencing('cases')"),
    ("windows_delete_unreferenced", "windows", "AFTER DELETE ON windows REFERENCING OLD TABLE AS old_rows "
                                               "FOR EACH STATEMENT EXECUTE FUNCTION windows_check_unreferenced()"),
    ("windows_key_immutable", "windows", "BEFORE UPDATE OF id, hall_id ON windows FOR EACH ROW "
                                         "WHEN (OLD.id IS DISTINCT FROM NEW.id OR OLD.hall_id IS DISTINCT FROM NEW.hall_id) "
                                         "EXECUTE FUNCTION hall_refs_key_immutable('cases')"),
    ("staff_delete_lock_cases", "staff", "BEFORE DELETE ON staff "
                                         "FOR EACH STATEMENT EXECUTE FUNCTION hall_refs_lock_referencing('cases')"),
    ("staff_delete_unreferenced", "staff", "AFTER DELETE ON staff REFERENCING OLD TABLE AS old_rows "
                                           "FOR EACH STATEMENT EXECUTE FUNCTION staff_check_unreferenced()"),
    ("staff_key_immutable", "staff", "BEFORE UPDATE OF id, hall_id ON staff FOR EACH ROW "
                                     "WHEN (OLD.id IS DISTINCT FROM NEW.id OR OLD.hall_id IS DISTINCT FROM NEW.hall_id) "
                                     "EXECUTE FUNCTION hall_refs_key_immutable('cases')"),
    ("halls_delete_lock_contacts", "halls", "BEFORE DELETE ON halls FOR EACH STATEMENT "
                                            "EXECUTE FUNCTION hall_refs_lock_referencing('contacts')"),
    ("halls_delete_unreferenced", "halls", "AFTER DELETE ON halls REFERENCING OLD TABLE AS old_rows "
                                           "FOR EACH STATEMENT EXECUTE FUNCTION halls_check_unreferenced()"),
    ("halls_key_immutable", "halls", "BEFORE UPDATE OF id ON halls FOR EACH ROW "
                                     "WHEN (OLD.id IS DISTINCT FROM NEW.id) "
                                     "EXECUTE FUNCTION hall_refs_key_immutable('contacts')"),
)

_PG_FUNCTION_NAMES = ("cases_check_hall_refs", "contacts_check_hall_ref", "hall_refs_lock_referencing",
                      "windows_check_unreferenced", "staff_check_unreferenced", "contacts_check_unreferenced",
                      "halls_check_unreferenced",
                      "hall_refs_key_immutable")

# --- SQLite: the same rules, row by row ---------------------------------------------------------------------

_WINDOW_MISSING = "NOT EXISTS (SELECT 1 FROM windows WHERE hall_id = NEW.hall_id AND id = NEW.window_id)"
_STAFF_MISSING = ("NEW.staff_id IS NOT NULL "
                  "AND NOT EXISTS (SELECT 1 FROM staff WHERE hall_id = NEW.hall_id AND id = NEW.staff_id)")
_CONTACT_MISSING = ("NEW.contact_id IS NOT NULL "
                    "AND NOT EXISTS (SELECT 1 FROM contacts WHERE hall_id = NEW.hall_id AND id = NEW.contact_id)")
_HALL_MISSING = "NOT EXISTS (SELECT 1 FROM halls WHERE id = NEW.hall_id)"
_WINDOW_USED = "EXISTS (SELECT 1 FROM cases WHERE hall_id = OLD.hall_id AND window_id = OLD.id)"
_STAFF_USED = "EXISTS (SELECT 1 FROM cases WHERE hall_id = OLD.hall_id AND staff_id = OLD.id)"
_CONTACT_USED = "EXISTS (SELECT 1 FROM cases WHERE contact_id = OLD.id)"
_HALL_USED = "EXISTS (SELECT 1 FROM contacts WHERE hall_id = OLD.id)"
_KEY_CHANGED = "OLD.id IS NOT NEW.id OR OLD.hall_id IS NOT NEW.hall_id"

# (trigger name, event, condition, message)
_SQLITE_TRIGGERS = (
    ("cases_window_insert", "INSERT ON cases", _WINDOW_MISSING,
     "cases: window (hall_id, window_id) is not a window of that hall"),
    ("cases_window_update", "UPDATE OF hall_id, window_id ON cases", _WINDOW_MISSING,
     "cases: window (hall_id, window_id) is not a window of that hall"),
    ("cases_staff_insert", "INSERT ON cases", _STAFF_MISSING,
     "cases: staff (hall_id, staff_id) is not a staff member of that hall"),
    ("cases_staff_update", "UPDATE OF hall_id, staff_id ON cases", _STAFF_MISSING,
     "cases: staff (hall_id, staff_id) is not a staff member of that hall"),
    ("cases_contact_insert", "INSERT ON cases", _CONTACT_MISSING,
     "cases: contact (hall_id, contact_id) is not a contact of that hall"),
    ("cases_contact_update", "UPDATE OF hall_id, contact_id ON cases", _CONTACT_MISSING,
     "cases: contact (hall_id, contact_id) is not a contact of that hall"),
    ("contacts_hall_insert", "INSERT ON contacts", _HALL_MISSING, "contacts: hall (hall_id) does not exist"),
    ("contacts_delete_unreferenced", "DELETE ON contacts", _CONTACT_USED,
     "contacts: contact is still the contact of cases"),
    ("contacts_key_immutable", "UPDATE OF id, hall_id ON contacts", _KEY_CHANGED,
     "contacts: the key of a contact cannot change (cases refer to it)"),
    ("windows_delete_unreferenced", "DELETE ON windows", _WINDOW_USED, "windows: window is still the window of cases"),
    ("windows_key_immutable", "UPDATE OF id, hall_id ON windows", _KEY_CHANGED,
     "windows: the key of a window cannot change (cases refer to it)"),
    ("staff_delete_unreferenced", "DELETE ON staff", _STAFF_USED, "staff: staff member is still the staff of cases"),
    ("staff_key_immutable", "UPDATE OF id, hall_id ON staff", _KEY_CHANGED,
     "staff: the key of a staff member cannot change (cases refer to it)"),
    ("halls_delete_unreferenced", "DELETE ON halls", _HALL_USED, "halls: hall still has contacts"),
    ("halls_key_immutable", "UPDATE OF id ON halls", "OLD.id IS NOT NEW.id",
     "halls: the key of a hall cannot change (contacts refer to it)"),
)


def upgrade() -> None:
    with op.batch_alter_table('cases', schema=None) as batch_op:
        batch_op.drop_constraint('fk_cases_hall_window_windows', type_='foreignkey')
        batch_op.drop_constraint('fk_cases_hall_staff_staff', type_='foreignkey')
        batch_op.drop_constraint(batch_op.f('fk_cases_contact_id_contacts'), type_='foreignkey')

    with op.batch_alter_table('contacts', schema=None) as batch_op:
        batch_op.drop_constraint(batch_op.f('fk_contacts_hall_id_halls'), type_='foreignkey')

    # after the batch operations: on SQLite they rebuild cases and contacts, and a rename checks every trigger
    if op.get_bind().dialect.name == 'postgresql':
        for function in _PG_FUNCTIONS:
            op.execute(function)
        for name, _, definition in _PG_TRIGGERS:
            op.execute(f"CREATE TRIGGER {name} {definition}")
    else:
        for name, event, condition, message in _SQLITE_TRIGGERS:
            op.execute(f"CREATE TRIGGER {name} BEFORE {event} FOR EACH ROW WHEN {condition} "
                       f"BEGIN SELECT RAISE(ABORT, '{message}'); END")


def downgrade() -> None:
    if op.get_bind().dialect.name == 'postgresql':
        for name, table, _ in _PG_TRIGGERS:
            op.execute(f"DROP TRIGGER {name} ON {table}")
        for function in _PG_FUNCTION_NAMES:
            op.execute(f"DROP FUNCTION {function}()")
    else:
        for name, *_ in _SQLITE_TRIGGERS:
            op.execute(f"DROP TRIGGER {name}")

    with op.batch_alter_table('contacts', schema=None) as batch_op:
        batch_op.create_foreign_key(batch_op.f('fk_contacts_hall_id_halls'), 'halls', ['hall_id'], ['id'],
                                    ondelete='RESTRICT')

    with op.batch_alter_table('cases', schema=None) as batch_op:
        batch_op.create_foreign_key('fk_cases_hall_staff_staff', 'staff', ['hall_id', 'staff_id'], ['hall_id', 'id'])
        batch_op.create_foreign_key('fk_cases_hall_window_windows', 'windows', ['hall_id', 'window_id'],
                                    ['hall_id', 'id'])
        batch_op.create_foreign_key(batch_op.f('fk_cases_contact_id_contacts'), 'contacts', ['contact_id'], ['id'])
