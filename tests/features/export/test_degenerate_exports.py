"""Empty and degenerate exports through the command line: a sentence and exit 2, never a traceback.

Each export is a few lines of CSV. ``validate`` must refuse what cannot be scored; ``train``
must say what it needs where an export is valid but too small to learn from. Scoring such an
export with an existing champion is tested in ``tests/training/test_cli.py``.
"""

from __future__ import annotations

from pathlib import Path

from typer.testing import CliRunner

from serving.cli.app import app
from tests.conftest import write_export

THREE_PATIENTS_A_YEAR = "\n".join(
    ["patient_id,visit_at,service"]
    + [f"p{p},2024-{m:02d}-0{p}" + ",botox" for p in (1, 2, 3) for m in range(1, 13, 2)]
)


def run(*args: str) -> tuple[int, str]:
    """Exit code and the whole output (stdout and stderr, wrapping undone) of one command."""
    result = CliRunner().invoke(app, list(args))
    assert result.exception is None or isinstance(result.exception, SystemExit), result.exception
    assert "Traceback" not in result.output
    return result.exit_code, " ".join(result.output.split())


def refused_by_validate_and_train(folder: Path, tmp_path: Path) -> list[str]:
    """Both commands' messages, after checking both exit 2."""
    messages = []
    for command in (["validate", str(folder)],
                    ["train", str(folder), "--models-dir", str(tmp_path / "models")]):
        code, output = run(*command)
        assert code == 2, output
        messages.append(output)
    return messages


def test_a_zero_byte_visits_file_is_refused_naming_the_table(tmp_path: Path) -> None:
    folder = tmp_path / "export"
    folder.mkdir()
    (folder / "visits.csv").write_bytes(b"")
    for message in refused_by_validate_and_train(folder, tmp_path):
        assert "the visits table is empty (0 bytes, no header line)" in message
        assert "at least patient_id, visit_at" in message


def test_a_zero_byte_contacts_file_is_refused_naming_that_table(tmp_path: Path) -> None:
    folder = write_export(tmp_path / "export", visits=THREE_PATIENTS_A_YEAR)
    (folder / "contacts.csv").write_bytes(b"")
    code, message = run("validate", str(folder))
    assert code == 2
    assert "the contacts table is empty (0 bytes" in message
    assert "patient_id, channel, sent_at" in message


def test_a_header_only_visits_file_is_refused_as_having_no_data_rows(tmp_path: Path) -> None:
    folder = write_export(tmp_path / "export", visits="patient_id,visit_at,revenue")
    for message in refused_by_validate_and_train(folder, tmp_path):
        assert ("visits: rule 'at least one data row' broken: the table has a header line but "
                "no data rows") in message
        assert "0 rows" not in message and "(rows )" not in message


def test_a_header_only_patients_file_is_refused_rather_than_rejecting_every_visit(
    tmp_path: Path,
) -> None:
    folder = write_export(tmp_path / "export", visits=THREE_PATIENTS_A_YEAR,
                          patients="patient_id,clinic_id")
    code, message = run("validate", str(folder))
    assert code == 2
    assert "patients: rule 'at least one data row' broken" in message
    assert "leave it out to derive the patients from the visits" in message


def test_a_visits_file_without_visit_at_names_the_missing_column(tmp_path: Path) -> None:
    folder = write_export(tmp_path / "export", visits="patient_id,when\np1,2024-01-05")
    for message in refused_by_validate_and_train(folder, tmp_path):
        assert ("visits.visit_at: rule 'required column present' broken: the visits table has "
                "no column 'visit_at' (it needs patient_id, visit_at; columns found: "
                "patient_id and 1 other)") in message
        assert "(rows )" not in message


def test_a_file_without_a_header_line_does_not_echo_its_first_row(tmp_path: Path) -> None:
    folder = write_export(tmp_path / "export", visits="secret-patient-7,2024-01-05")
    code, message = run("validate", str(folder))
    assert code == 2
    assert "columns found: no contract column and 2 others" in message
    assert "is the first line a header" in message
    assert "secret-patient-7" not in message


def test_an_export_without_a_completed_visit_is_refused_by_validate_and_train(
    tmp_path: Path,
) -> None:
    folder = write_export(tmp_path / "export", visits=(
        "patient_id,visit_at,status\np1,2024-01-05,no_show\np2,2024-03-05,cancelled\n"
        "p3,2024-06-05,no_show"))
    for message in refused_by_validate_and_train(folder, tmp_path):
        assert ("visits: no completed visit (statuses found: no_show 2, cancelled 1): a patient "
                "is scored only after a completed visit, so there is no one to score and "
                "nothing to train on") in message


def test_an_export_of_one_patient_validates_but_train_says_how_many_patients_it_needs(
    tmp_path: Path,
) -> None:
    visits = "patient_id,visit_at\n" + "\n".join(
        f"p1,{year}-{month:02d}-10" for year in (2022, 2023, 2024) for month in (1, 4, 7, 10))
    folder = write_export(tmp_path / "export", visits=visits)
    code, message = run("validate", str(folder))
    assert code == 0, message
    assert "cannot train yet: visits: too few patients to train on: 1 patient with a " \
           "completed visit; training needs at least 6" in message
    code, message = run("train", str(folder), "--models-dir", str(tmp_path / "models"))
    assert code == 2
    assert ("visits: too few patients to train on: 1 patient with a completed visit; training "
            "needs at least 6 (3 who returned within 90 days and 3 who did not). A trained "
            "model can still score this export.") in message


def test_an_export_with_every_visit_on_one_day_validates_but_train_says_how_much_history_it_needs(
    tmp_path: Path,
) -> None:
    visits = "patient_id,visit_at\n" + "\n".join(f"p{i},2024-01-05" for i in range(12))
    folder = write_export(tmp_path / "export", visits=visits)
    code, message = run("validate", str(folder))
    assert code == 0, message
    assert "cannot train yet: visits: not enough history" in message
    code, message = run("train", str(folder), "--models-dir", str(tmp_path / "models"))
    assert code == 2
    assert ("visits: not enough history before 2024-01-05 to train with a 90-day horizon: at "
            "least 118 days from the first visit to the as-of date are needed") in message
    assert "The visits table has every visit on one day (2024-01-05)." in message
    assert "A trained model can still score this export." in message


def test_an_export_whose_patients_all_returned_says_both_outcomes_are_needed(
    tmp_path: Path,
) -> None:
    # Eight patients, each back every month for two years: nobody ever fails to return.
    visits = "patient_id,visit_at\n" + "\n".join(
        f"p{p},{y}-{m:02d}-1{p}" for p in range(8) for y in (2023, 2024) for m in range(1, 13))
    folder = write_export(tmp_path / "export", visits=visits)
    code, message = run("train", str(folder), "--models-dir", str(tmp_path / "models"))
    assert code == 2
    assert "visits: too few patients to train on: the training and validation snapshots" in message
    assert "hold 8 patients who returned within 90 days and 0 patients who did not" in message
    assert "training needs at least 3 of each" in message


def test_an_export_of_a_single_service_validates_with_a_note_naming_the_column(
    tmp_path: Path,
) -> None:
    folder = write_export(tmp_path / "export", visits=THREE_PATIENTS_A_YEAR)
    code, message = run("validate", str(folder))
    assert code == 0, message
    assert ("note: visits.service: 1 distinct value: the service features cannot tell "
            "patients apart") in message


def test_an_export_without_a_contacts_table_validates_with_a_note_that_there_is_no_channel_model(
    tmp_path: Path,
) -> None:
    folder = write_export(tmp_path / "export", visits=THREE_PATIENTS_A_YEAR)
    code, message = run("validate", str(folder))
    assert code == 0, message
    assert "note: contacts: no table: no channel model and no uplift model" in message


def test_an_export_whose_every_visit_is_rejected_in_lenient_mode_is_refused(
    tmp_path: Path,
) -> None:
    folder = write_export(tmp_path / "export",
                          visits="patient_id,visit_at,revenue\np1,2024-01-05,-1\np2,2024-02-05,-3")
    code, message = run("validate", str(folder), "--lenient",
                        "--rejects", str(tmp_path / "rejects.csv"))
    assert code == 2
    assert "visits.revenue: rule 'revenue >= 0' broken by 2 rows (data rows 1, 2; spreadsheet " \
           "rows 2, 3)" in message
    assert ("visits: rule 'at least one usable visit' broken: all 2 data rows were left out"
            in message)


def test_train_lenient_prints_the_accepted_and_rejected_counts_per_table(tmp_path: Path) -> None:
    folder = write_export(
        tmp_path / "export", patients="patient_id\np1\np2\np3",
        visits=THREE_PATIENTS_A_YEAR + "\np9,2024-03-03,botox\np1,someday,botox",
    )
    code, message = run("train", str(folder), "--lenient", "--models-dir",
                        str(tmp_path / "models"))
    assert ("loaded (lenient): patients 3 read, 3 accepted, 0 rejected; visits 20 read, "
            "18 accepted, 2 rejected") in message
    assert "rejected rows with reasons written to" in message
    assert code == 2  # three patients are too few to train on, and it says so
    assert "too few patients to train on" in message
