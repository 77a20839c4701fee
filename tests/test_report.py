"""The run report: what it gathers from a run directory, and how it behaves in a real browser.

The browser tests open the generated file in Debian's chromium, driven by
playwright, with the network off: the page must draw its charts, step through
replays, shade tokens by log-prob and say what is missing from a killed run,
without a single console error. ``make test`` installs chromium (``make
browser``) and sets SPARRING_REQUIRE_BROWSER=1, so there a missing browser
fails instead of skipping.
"""

from __future__ import annotations

import json
import os
import shutil
from pathlib import Path

import pytest

from sparring.checkpoint import RunDir, save_best
from sparring.cli import main
from sparring.config import load_config
from sparring.errors import UserError
from sparring.report import build_report, embed_json, gather
from sparring.report.curves import chart_specs
from sparring.report.data import eval_from_metrics, finite, read_jsonl
from sparring.train import train

CHROMIUM = Path("/usr/bin/chromium")
CHROMIUM_ARGS = [
    "--headless=new",
    "--no-sandbox",
    "--disable-gpu",
    "--disable-quic",
    "--no-first-run",
    "--disable-background-networking",
    "--disable-component-update",
    "--disable-sync",
]
RUN = [
    "rollout.games_per_step=4",
    "eval.games=2",
    "eval.every=0",
    "checkpoint.every=2",
    "logging.tensorboard=false",
    "sampling.max_new_tokens=8",
    "logging.replay_every=1",
    "logging.replay_games=3",
    "max_steps=2",
]
RATES = ("win", "draw", "loss", "invalid")
HOSTILE = "</script><script>window.pwned = 1</script><!-- <b>bold</b> &amp;"


# --------------------------------------------------------------------------- fixtures


@pytest.fixture(scope="module")
def run_dir(tmp_path_factory) -> Path:
    """A real two-step self-play run on the bundled model (about half a minute on a laptop CPU)."""
    from rich.console import Console

    path = tmp_path_factory.mktemp("report") / "run"
    train(load_config("spiral-tictactoe", RUN), path, console=Console(quiet=True))
    return path


@pytest.fixture(scope="module")
def browser():
    """Chromium via playwright, never downloaded by playwright itself (``make browser`` installs Debian's)."""
    required = bool(os.environ.get("SPARRING_REQUIRE_BROWSER"))
    if not CHROMIUM.exists():
        if required:
            pytest.fail(f"{CHROMIUM} is missing; install it with `make browser` (apt-get install chromium)")
        pytest.skip(f"{CHROMIUM} is not installed (run `make browser`); set SPARRING_REQUIRE_BROWSER=1 to fail instead")
    try:
        from playwright.sync_api import sync_playwright
    except ImportError:
        pytest.fail("chromium is here but the playwright package is not; install the dev extra: pip install -e '.[dev]'")
    with sync_playwright() as p:
        chromium = p.chromium.launch(executable_path=str(CHROMIUM), args=CHROMIUM_ARGS)
        yield chromium
        chromium.close()


class Opened:
    """A report open in a page, with every console error, page error and non-file request it caused."""

    def __init__(self, browser, path: Path) -> None:
        self.page = browser.new_page(viewport={"width": 1400, "height": 1000})
        self.problems: list[str] = []
        self.page.on("console", lambda m: m.type == "error" and self.problems.append(f"console: {m.text}"))
        self.page.on("pageerror", lambda e: self.problems.append(f"page error: {e}"))
        self.page.on("request", lambda r: r.url.startswith("file://") or self.problems.append(f"network: {r.url}"))
        self.page.on("dialog", lambda d: (self.problems.append(f"dialog: {d.message}"), d.dismiss()))
        self.page.goto(path.resolve().as_uri())

    def data(self) -> dict:
        return json.loads(self.page.locator("#report-data").text_content())


@pytest.fixture
def open_report(browser):
    opened: list[Opened] = []

    def _open(path: Path) -> Opened:
        opened.append(Opened(browser, path))
        return opened[-1]

    yield _open
    for o in opened:
        o.page.close()


def copy_run(src: Path, dst: Path, with_checkpoints: bool = False) -> Path:
    ignore = None if with_checkpoints else shutil.ignore_patterns("checkpoints")
    shutil.copytree(src, dst, ignore=ignore)
    (dst / "report.html").unlink(missing_ok=True)
    return dst


# --------------------------------------------------------------------------- the report in a browser


def test_training_ends_by_writing_the_report(run_dir):
    html = RunDir(run_dir).report_path.read_text()
    assert html.startswith("<!DOCTYPE html>") and 'id="report-data"' in html
    assert "http://" not in html.replace("http://www.w3.org/2000/svg", "") and "https://" not in html


def test_report_renders_charts_offline_without_errors(run_dir, open_report):
    report = open_report(build_report(run_dir))
    page = report.page
    for chart in ("loss", "return-tic_tac_toe", "invalid", "eval-win-tic_tac_toe", "games-per-s", "tokens-per-s"):
        path = page.locator(f'figure[data-chart="{chart}"] path.series-line').first
        assert int(path.get_attribute("data-points")) >= 2, chart
        assert path.get_attribute("d").count("L") >= 1, chart
        assert page.locator(f'figure[data-chart="{chart}"] circle.pt').count() >= 2, chart
    returns = page.locator('figure[data-chart="return-tic_tac_toe"]')
    assert {"seat0", "seat1"} <= set(returns.locator("path.series-line").evaluate_all("ps => ps.map(p => p.dataset.series)"))
    assert "seat0" in returns.locator(".legend").text_content()
    assert page.locator('figure[data-chart="loss"] .axis text').count() >= 6  # tick labels on both axes
    assert page.locator("#missing").is_hidden()
    assert "tic_tac_toe" in page.locator("#config").text_content()
    assert report.problems == []


def test_hovering_a_chart_shows_the_values_at_a_step(run_dir, open_report):
    report = open_report(build_report(run_dir))
    page = report.page
    page.locator('figure[data-chart="loss"] rect.hover').hover()
    tooltip = page.locator("#chart-tooltip")
    assert tooltip.is_visible()
    assert "step" in tooltip.text_content() and "learner/loss" in tooltip.text_content()
    assert report.problems == []


def test_eval_table_shows_rates_with_intervals(run_dir, open_report):
    report = open_report(build_report(run_dir))
    table = report.page.locator("table.eval-table")
    text = table.text_content()
    assert "minimax" in text and "random" in text
    first_win = table.locator("tbody tr").first.locator("td").nth(3).text_content()
    assert "%" in first_win and "(" in first_win and "–" in first_win
    assert "step 2" in report.page.locator("#eval").text_content()


def test_replay_viewer_steps_through_turns_with_shaded_tokens(run_dir, open_report):
    report = open_report(build_report(run_dir))
    page = report.page
    games = report.data()["replays"]
    longer = [(k, g) for k, g in enumerate(games) if len(g["turns"]) >= 2]
    assert longer, "the fixture run (seeded, so always the same) has no game of two turns to step through"
    k, game = longer[0]
    assert page.locator("#viewer").is_hidden()
    page.locator("tr.game-row").nth(k).click()
    n = len(game["turns"])
    assert page.locator("#turn-counter").text_content() == f"Turn 1 / {n}"
    assert page.locator("pre.observation").text_content() == game["turns"][0]["observation"]
    assert page.locator("#prev-turn").is_disabled()
    page.click("#next-turn")
    assert page.locator("#turn-counter").text_content() == f"Turn 2 / {n}"
    assert page.locator("pre.observation").text_content() == game["turns"][1]["observation"]
    page.keyboard.press("ArrowLeft")
    assert page.locator("#turn-counter").text_content() == f"Turn 1 / {n}"
    page.keyboard.press("ArrowRight")
    assert page.locator("#turn-counter").text_content() == f"Turn 2 / {n}"

    turn = game["turns"][1]
    token = page.locator("#turn .tok").first
    assert page.locator("#turn .tok").count() == len(turn["logprobs"])
    background = token.evaluate("t => getComputedStyle(t).backgroundColor")
    assert background not in ("rgba(0, 0, 0, 0)", "transparent")
    shown = float(token.get_attribute("title").split("log-prob ")[1].split()[0])
    assert shown == pytest.approx(turn["logprobs"][0], abs=5e-5)  # to 4 places (a -0.0 shows as 0.0000)
    details = page.locator("#turn dl.kv").text_content()
    assert ("invalid move" in details) if turn["invalid"] else (f"action{turn['action']}" in details)
    if "advantage" in turn:
        assert f"{turn['advantage']:+.3f}"[:5] in page.locator("#turn dd.advantage").text_content()
    assert report.problems == []


def test_replay_filters_narrow_the_list(run_dir, open_report):
    page = open_report(build_report(run_dir)).page
    total = page.locator("tr.game-row").count()
    page.select_option("#filter-step", "2")
    rows = page.locator("tr.game-row")
    assert 0 < rows.count() < total
    assert set(rows.evaluate_all("rs => rs.map(r => r.children[1].textContent)")) == {"2"}


def test_model_text_is_shown_as_text_never_run_as_html(run_dir, tmp_path, open_report):
    run = copy_run(run_dir, tmp_path / "run")
    replays = run / "replays" / "train.jsonl"
    games = [json.loads(line) for line in replays.read_text().splitlines()]
    games[0]["turns"][0]["observation"] = HOSTILE
    games[0]["turns"][0]["tokens"][0] = HOSTILE
    replays.write_text("".join(json.dumps(g) + "\n" for g in games))
    report = open_report(build_report(run))
    page = report.page
    page.locator("tr.game-row").first.click()
    assert page.locator("pre.observation").text_content() == HOSTILE
    assert page.locator("#turn .tok").first.text_content() == HOSTILE
    assert page.evaluate("window.pwned") is None
    assert page.locator("#turn b").count() == 0
    assert report.problems == []


def test_killed_run_still_gets_a_report_that_names_what_is_missing(run_dir, tmp_path, open_report):
    run = copy_run(run_dir, tmp_path / "killed")
    shutil.rmtree(run / "replays")
    metrics = (run / "metrics.jsonl").read_bytes()
    (run / "metrics.jsonl").write_bytes(metrics[: len(metrics) - 40])  # the last line torn mid-write
    report = open_report(build_report(run))
    page = report.page
    missing = page.locator("#missing")
    assert missing.is_visible()
    assert "checkpoints" in missing.text_content() and "replays" in missing.text_content()
    assert "cut off" in page.locator("#notes").text_content()
    assert page.locator('figure[data-chart="loss"] path.series-line').count() == 1
    assert "No replay games" in page.locator("#replays").text_content()
    assert report.problems == []


def test_run_with_only_a_config_still_renders(run_dir, tmp_path, open_report):
    run = tmp_path / "fresh"
    run.mkdir()
    shutil.copy(run_dir / "config.yaml", run / "config.yaml")
    report = open_report(build_report(run))
    text = report.page.locator("#missing").text_content()
    assert "metrics.jsonl" in text and "checkpoints" in text and "replays" in text
    assert "No metrics recorded yet." in report.page.locator("#charts").text_content()
    assert report.problems == []


def test_eval_file_and_league_are_shown_when_present(run_dir, tmp_path, open_report):
    run = copy_run(run_dir, tmp_path / "evaluated")
    (run / "eval").mkdir()
    interval = {"win": [0.3, 0.9], "draw": [0.0, 0.4], "loss": [0.05, 0.5], "invalid": [0.0, 0.3]}
    stats = {"win": 0.6, "draw": 0.1, "loss": 0.3, "invalid": 0.05, "games": 20, "intervals": interval}
    seat = {**stats, "games": 10}
    vs = {"mcts:sims=50": {**stats, "by_seat": {"0": seat, "1": seat}}}
    entry = {"vs": vs, "exploitability": None, "mean_response_tokens": 6.0}
    doc = {"step": 2, "checkpoint": "x", "games": {"tic_tac_toe": entry}}
    (run / "eval" / "step-1.json").write_text(json.dumps({**doc, "step": 1}))
    (run / "eval" / "step-2.json").write_text(json.dumps(doc))
    league = {
        "players": [
            {"name": "random", "elo": 900, "elo_low": 850, "elo_high": 950, "games": 40},
            {"name": "step-2", "elo": 1100, "elo_low": 1050, "elo_high": 1150, "games": 40},
        ],
        "matrix": {"random": {"step-2": 0.2}, "step-2": {"random": 0.8}},
        "notes": ["step-2 scores 40% against step-1: cycling"],
    }
    (run / "league.json").write_text(json.dumps(league))
    report = open_report(build_report(run))
    page = report.page
    eval_text = page.locator("#eval").text_content()
    assert "eval/step-2.json" in eval_text and "mcts:sims=50" in eval_text and "as seat 1" in eval_text
    assert "60% (30%–90%)" in eval_text
    elo = page.locator("table.elo-table")
    assert elo.is_visible() and elo.locator("tr").nth(1).text_content().startswith("1step-2")
    assert "cycling" in page.locator("#league").text_content() and page.locator("table.matrix td").count() == 4
    assert report.problems == []


def test_a_cooperative_games_team_return_and_optimum_are_shown_beside_exploitability(run_dir, tmp_path, open_report):
    run = copy_run(run_dir, tmp_path / "team")
    (run / "eval").mkdir()
    stats = {"win": 0.0, "draw": 1.0, "loss": 0.0, "invalid": 0.0, "games": 4, "intervals": dict.fromkeys(RATES, [0.0, 1.0])}
    entry = {"vs": {"random": stats}, "exploitability": None, "team_return": 3.7222, "team_optimum": 10.0}
    (run / "eval" / "step-2.json").write_text(json.dumps({"step": 2, "checkpoint": "x", "games": {"tiny_hanabi": entry}}))
    report = open_report(build_report(run))
    assert report.page.locator("#eval td.team").first.text_content() == "3.722 / 10.0"
    assert report.problems == []
    # the same figures read from metrics.jsonl, where no eval file was written
    ev = eval_from_metrics({"step": 3, "eval/tiny_hanabi/team_return": 5.0, "eval/tiny_hanabi/team_optimum": 10.0})
    assert ev["games"]["tiny_hanabi"]["team_return"] == 5.0 and ev["games"]["tiny_hanabi"]["team_optimum"] == 10.0


def test_the_kept_best_model_is_named_with_its_step_and_value(run_dir, tmp_path, open_report):
    run = copy_run(run_dir, tmp_path / "best")
    assert gather(run)["best"] is None  # the run kept no best
    info = {"step": 2, "metric": "average_exploitability", "value": 0.0412, "model": "average"}
    save_best(RunDir(run), 2, lambda d: (d / "model").mkdir() or (d / "model" / "w.txt").write_text("w"), info)
    assert gather(run)["best"] == info
    report = open_report(build_report(run))
    assert "best (RUN/best)step 2, average_exploitability 0.041 (weight average)" in report.page.locator("#config").text_content()
    assert report.problems == []
    (run / "best" / "model" / "w.txt").write_text("x")  # a best that no longer verifies is not shown
    assert gather(run)["best"] is None


# --------------------------------------------------------------------------- data gathering, no browser


def test_embedded_json_cannot_close_the_script_tag():
    text = embed_json({"text": HOSTILE, "line": "a\u2028b"})
    assert "<" not in text and ">" not in text and "&" not in text and "\u2028" not in text
    assert json.loads(text) == {"text": HOSTILE, "line": "a\u2028b"}


def test_nan_metrics_become_null_so_the_page_can_parse_them():
    assert finite({"a": [1.0, float("nan")], "b": float("inf"), "c": "x"}) == {"a": [1.0, None], "b": None, "c": "x"}
    json.dumps(finite([float("-inf")]), allow_nan=False)


def test_torn_and_damaged_lines_are_skipped_and_counted(tmp_path):
    path = tmp_path / "m.jsonl"
    path.write_bytes(b'{"step": 0}\nnot json\n{"step": 1}\n{"step": 2, "x"')
    records, torn, bad = read_jsonl(path)
    assert [r["step"] for r in records] == [0, 1] and torn and bad == 1


def test_charts_group_metrics_by_game_role_and_opponent():
    records = [
        {
            "step": 0,
            "eval/kuhn_poker/model:runs/a/checkpoints/step-4/win": 0.5,
            "eval/kuhn_poker/random/win": 0.7,
            "eval/kuhn_poker/exploitability": 0.4,
        },
        {
            "step": 1,
            "learner/loss": 0.2,
            "train/kuhn_poker/return/seat0": 0.1,
            "train/kuhn_poker/return/seat1": -0.1,
            "baseline/kuhn_poker/0": 0.05,
            "train/kuhn_poker/invalid": 0.25,
            "learner/kl": float("nan"),
        },
        {"step": 2, "learner/loss": 0.1, "learner/kl": 0.01},
    ]
    charts = {c["id"]: c for c in chart_specs(records)}
    assert [s["name"] for s in charts["return-kuhn_poker"]["series"]] == ["seat0", "seat1", "baseline seat0"]
    assert charts["loss"]["series"][0]["points"] == [[1, 0.2], [2, 0.1]]
    assert charts["kl"]["series"][0]["points"] == [[2, 0.01]]
    opponents = [s["name"] for s in charts["eval-win-kuhn_poker"]["series"]]
    assert opponents == ["model:runs/a/checkpoints/step-4", "random"]
    assert charts["invalid"]["percent"] and charts["exploitability"]["series"][0]["name"] == "kuhn_poker"
    assert "entropy" not in charts  # no data, no empty chart


def test_eval_from_metrics_adds_wilson_intervals():
    table = eval_from_metrics(
        {
            "step": 4,
            "eval/tic_tac_toe/minimax/win": 0.0,
            "eval/tic_tac_toe/minimax/loss": 0.25,
            "eval/tic_tac_toe/minimax/draw": 0.75,
            "eval/tic_tac_toe/minimax/invalid": 0.0,
            "eval/tic_tac_toe/minimax/games": 20.0,
        }
    )
    (row,) = table["rows"]
    assert table["step"] == 4 and row["opponent"] == "minimax" and row["games"] == 20
    assert row["win"][0] == 0 and row["win"][1] == 0 and 0.1 < row["win"][2] < 0.2
    assert row["non_loss"][0] == pytest.approx(0.75) and row["non_loss"][1] < 0.75 < row["non_loss"][2]


def test_a_directory_that_is_not_a_run_is_a_user_error(tmp_path):
    with pytest.raises(UserError, match="not a sparring run directory"):
        gather(tmp_path)


# --------------------------------------------------------------------------- the commands


def test_report_command_prints_the_path(run_dir, capsys):
    assert main(["report", str(run_dir)]) == 0
    assert capsys.readouterr().out.strip() == str(RunDir(run_dir).report_path)


def test_report_command_on_a_non_run_is_one_line_error(tmp_path, capsys):
    assert main(["report", str(tmp_path)]) == 2
    err = capsys.readouterr().err.strip()
    assert err.startswith("error:") and "not a sparring run directory" in err and "\n" not in err


def test_replay_command_lists_and_prints_games(run_dir, capsys):
    path = run_dir / "replays" / "train.jsonl"
    games, _, _ = read_jsonl(path)
    assert main(["replay", str(path), "--list"]) == 0
    listing = capsys.readouterr().out
    assert f"{len(games)} games" in listing and "policy vs policy" in listing
    assert main(["replay", str(path), "--game-index", "1"]) == 0
    out = capsys.readouterr().out
    turn = games[1]["turns"][0]
    assert "turn 1/" in out and "said:" in out and "mean log-prob" in out
    assert (turn["invalid"] or turn["action"]) in out
    assert main(["replay", str(path), "--game-index", str(len(games))]) == 2
    err = capsys.readouterr().err
    assert f"valid: 0-{len(games) - 1}" in err and err.count("\n") == 1


# --------------------------------------------------------------------------- role games: seats named by role


def test_role_games_name_their_seats_in_replays_the_terminal_and_the_charts(capsys):
    from rich.console import Console

    from sparring.games import make_game
    from sparring.players.prior import PriorPlayer
    from sparring.replays import replay_record
    from sparring.report.terminal import print_game
    from sparring.rollout import play_games

    game = make_game("propose_solve")
    record = play_games(game, [PriorPlayer(game), PriorPlayer(game)], 1, seed=3)[0]
    replay = replay_record(record, ["policy", "prior"])
    assert replay["roles"] == ["proposer", "solver"]
    assert [t["role"] for t in replay["turns"]] == [["proposer", "solver"][t["seat"]] for t in replay["turns"]]
    kuhn = make_game("kuhn_poker")
    assert replay_record(play_games(kuhn, [PriorPlayer(kuhn)] * 2, 1)[0], ["a", "b"])["roles"] is None
    print_game(replay, 0, Console(width=200))
    out = capsys.readouterr().out
    assert "seat 0, proposer: policy" in out and "seat 1, solver (prior)" in out
    returns = {"train/propose_solve/return/seat0": -1.0, "train/propose_solve/return/seat1": 0.5}
    records = [{"step": 1, **returns, "baseline/propose_solve/1": 0.2}]
    chart = next(c for c in chart_specs(records) if c["id"] == "return-propose_solve")
    assert {s["name"] for s in chart["series"]} == {"seat0 proposer", "seat1 solver", "baseline seat1 solver"}


def test_the_viewer_names_seats_by_role(run_dir, tmp_path, open_report):
    run = copy_run(run_dir, tmp_path / "run")
    path = run / "replays" / "train.jsonl"
    games, _, _ = read_jsonl(path)
    path.write_text("".join(json.dumps({**g, "roles": ["opener", "closer"]}) + "\n" for g in games))
    report = open_report(build_report(run))
    report.page.locator("tr.game-row").first.click()
    seat = games[0]["turns"][0]["seat"]
    role = ["opener", "closer"][seat]
    assert report.page.locator("#turn h3").first.text_content() == f"Observation for seat {seat}, {role}"
    assert f"seat 0, opener: {games[0]['players'][0]}" in report.page.locator("#viewer").text_content()
    assert report.problems == []
