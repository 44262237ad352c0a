"""`rldsl new TEMPLATE [FILE]`: a zoo model as a new file that checks and compiles as it is."""

from __future__ import annotations

from pathlib import Path

import pytest

import rldsl
from rldsl import cli
from rldsl.templates import Template, TemplateError, find_template, zoo_templates

ROOT = Path(__file__).resolve().parents[1]
ZOO = ROOT / "examples" / "zoo"


def run(capsys: pytest.CaptureFixture[str], *args: str) -> tuple[int, str, str]:
    code = cli.main(list(args))
    out, err = capsys.readouterr()
    return code, out, err


def fake(name: str) -> Template:
    return Template(name, name.upper(), "somewhere", f"the {name} model", f"# zoo: {name}\n")


def test_every_zoo_file_is_a_template_with_its_header() -> None:
    templates = {t.name: t for t in zoo_templates()}
    files = sorted(path.stem for path in ZOO.glob("*.rlm"))
    assert files and sorted(templates) == files
    for name, template in templates.items():
        text = (ZOO / f"{name}.rlm").read_text()
        assert template.text == text
        assert text.startswith("# zoo: ") and template.mirrors.startswith("sota-implementations/"), name


def test_an_algorithm_name_picks_its_usual_family() -> None:
    templates = [fake("ppo_atari"), fake("ppo_mujoco"), fake("dqn_cartpole"), fake("dqn_atari"), fake("qmix_vmas")]
    assert find_template("ppo", templates).name == "ppo_mujoco"
    assert find_template("DQN", templates).name == "dqn_cartpole"
    assert find_template("ppo_atari", templates).name == "ppo_atari"
    assert find_template("qmix", templates).name == "qmix_vmas"
    with pytest.raises(TemplateError, match="no template `ppoo`; did you mean `ppo`"):
        find_template("ppoo", templates)


def test_list_shows_every_template_with_its_description(capsys: pytest.CaptureFixture[str]) -> None:
    code, out, _ = run(capsys, "new", "--list")
    assert code == 0
    lines = out.splitlines()
    assert len(lines) == len(zoo_templates())
    for template in zoo_templates():
        assert any(line.startswith(template.name) and line.endswith(template.description) for line in lines)


def test_new_sac_writes_a_model_that_checks_and_compiles(capsys: pytest.CaptureFixture[str], tmp_path: Path) -> None:
    target = tmp_path / "my_sac.rlm"
    code, out, _ = run(capsys, "new", "sac", "-o", str(target))
    assert code == 0 and f"wrote {target}" in out and f"rldsl check {target}" in out
    assert target.read_text() == find_template("sac").text
    assert rldsl.check(target).ok
    program = rldsl.compile(target)
    assert list(program)


def test_an_existing_file_is_kept_unless_forced(capsys: pytest.CaptureFixture[str], tmp_path: Path) -> None:
    target = tmp_path / "mine.rlm"
    target.write_text("key observation : f32[3]\n")
    code, _, err = run(capsys, "new", "sac", str(target))
    assert code == 2 and "exists: pass --force" in err
    assert target.read_text() == "key observation : f32[3]\n"
    code, _, _ = run(capsys, "new", "sac", str(target), "--force")
    assert code == 0 and target.read_text() == find_template("sac").text


def test_the_default_file_is_the_template_name(capsys: pytest.CaptureFixture[str], tmp_path: Path,
                                               monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.chdir(tmp_path)
    code, _, _ = run(capsys, "new", "sac")
    assert code == 0 and (tmp_path / f"{find_template('sac').name}.rlm").exists()


@pytest.mark.parametrize(("args", "message"), [
    (("new",), "name a template"),
    (("new", "sacc"), "did you mean `sac`"),
    (("new", "sac", "a.rlm", "-o", "b.rlm"), "two files given"),
])
def test_usage_errors_say_what_to_do(capsys: pytest.CaptureFixture[str], tmp_path: Path,
                                     monkeypatch: pytest.MonkeyPatch, args: tuple[str, ...], message: str) -> None:
    monkeypatch.chdir(tmp_path)
    code, _, err = run(capsys, *args)
    assert code == 2 and message in err


def test_a_folder_that_cannot_be_written_is_a_usage_error(capsys: pytest.CaptureFixture[str], tmp_path: Path) -> None:
    code, _, err = run(capsys, "new", "sac", str(tmp_path / "missing" / "x.rlm"))
    assert code == 2 and "cannot write" in err
