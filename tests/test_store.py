"""labkit.store: keys, atomic records, payload round trips, check results, refusing foreign files."""

import pickle
import sqlite3

import numpy as np
import pandas as pd
import pytest

from labkit import ResultStore, lab_dir
from labkit.seeding import run_seed
from labkit.store import StoreError


@pytest.fixture
def store(tmp_path):
    return ResultStore(tmp_path / "store.sqlite")


def sample_frame():
    return pd.DataFrame({
        "i": np.arange(4, dtype=np.int64),
        "i32": np.arange(4, dtype=np.int32),
        "x": [0.1, -0.0, np.nan, np.inf],
        "tiny": [5e-324, 1.0 + 2**-52, -1e308, 1 / 3],
        "flag": [True, False, True, False],
        "name": ["a", "b", "c", "d"],
        "cat": pd.Categorical(["lo", "hi", "lo", "hi"], categories=["lo", "hi"], ordered=True),
        "when": pd.date_range("2024-01-01", periods=4, freq="h"),
        "maybe": pd.array([1, None, 3, 4], dtype="Int64"),
    })


def test_frames_round_trip_bit_for_bit_with_dtypes(store):
    frame = sample_frame()
    key = ResultStore.key("exp", {"a": 1}, run_seed(0, 0))
    assert store.put(key, "exp", {"a": 1}, 0, frame) is True
    back = store.get(key)
    pd.testing.assert_frame_equal(back, frame, check_exact=True)
    assert list(back.dtypes) == list(frame.dtypes)
    assert np.signbit(back["x"].iloc[1])  # -0.0 survives


def test_a_named_index_round_trips(store):
    frame = pd.DataFrame({"v": [1.0, 2.0]}, index=pd.Index([10, 20], name="step"))
    store.put("k", "exp", {}, 0, frame)
    pd.testing.assert_frame_equal(store.get("k"), frame)


def test_key_is_stable_and_content_addressed():
    seed = run_seed(3, 1)
    base = ResultStore.key("exp", {"a": 1, "b": [1, 2], "c": {"x": 0.5, "y": "s"}}, seed)
    same = ResultStore.key("exp", {"c": {"y": "s", "x": np.float64(0.5)}, "b": (1, np.int64(2)), "a": np.int32(1)}, seed)
    assert base == same and len(base) == 64 and int(base, 16) >= 0
    assert ResultStore.key("exp", {"a": 1, "b": np.array([1, 2]), "c": {"x": 0.5, "y": "s"}}, seed) == base
    others = {
        ResultStore.key("exp", {"a": 1, "b": [1, 2], "c": {"x": 0.5, "y": "s"}}, run_seed(4, 1)),  # other root
        ResultStore.key("exp", {"a": 1, "b": [1, 2], "c": {"x": 0.5, "y": "s"}}, run_seed(3, 2)),  # other replicate
        ResultStore.key("exp2", {"a": 1, "b": [1, 2], "c": {"x": 0.5, "y": "s"}}, seed),  # other experiment
        ResultStore.key("exp", {"a": 1.0, "b": [1, 2], "c": {"x": 0.5, "y": "s"}}, seed),  # 1.0 is not 1
        ResultStore.key("exp", {"a": True, "b": [1, 2], "c": {"x": 0.5, "y": "s"}}, seed),  # True is not 1
    }
    assert base not in others and len(others) == 5


def test_key_is_pinned_to_its_definition():
    # sha256 of the canonical JSON written out by hand: the key must not drift between versions,
    # or every stored run would silently become unreachable.
    import hashlib
    text = '{"code_version":"v7","config":{"a":1,"b":"x"},"entropy":3,"experiment":"exp","spawn_key":[1]}'
    key = ResultStore.key("exp", {"b": "x", "a": 1}, run_seed(3, 1), code_version="v7")
    assert key == hashlib.sha256(text.encode()).hexdigest()
    assert ResultStore.key("exp", {"b": "x", "a": 1}, run_seed(3, 1), code_version="v8") != key


@pytest.mark.parametrize("config, where", [
    ({"a": 1, "f": object()}, r"config\['f'\]"),
    ({"a": {"b": {1, 2}}}, r"config\['a'\]\['b'\]"),
    ({"a": [1, lambda: 0]}, r"config\['a'\]\[1\]"),
    ({"a": np.array(["x"])}, r"config\['a'\]"),
    ({1: "x"}, "keys must be str"),
])
def test_non_json_config_is_a_clear_type_error(config, where):
    with pytest.raises(TypeError, match=where):
        ResultStore.key("exp", config, run_seed(0, 0))


def test_key_validates_its_arguments():
    with pytest.raises(TypeError, match="seed_seq must be a numpy.random.SeedSequence"):
        ResultStore.key("exp", {}, 0)
    with pytest.raises(TypeError, match="config must be a dict"):
        ResultStore.key("exp", [("a", 1)], run_seed(0, 0))
    with pytest.raises(TypeError, match="experiment must be a non-empty str"):
        ResultStore.key("", {}, run_seed(0, 0))


def test_put_never_duplicates_and_keeps_the_first_record(store):
    first = pd.DataFrame({"v": [1.0]})
    assert store.put("k1", "exp", {"a": 1}, 0, first) is True
    assert store.put("k1", "exp", {"a": 1}, 0, pd.DataFrame({"v": [2.0]})) is False
    assert store.count("exp") == 1
    pd.testing.assert_frame_equal(store.get("k1"), first)


def test_get_has_keys_count_load_delete(store):
    assert store.get("nope") is None and not store.has("nope")
    assert store.load("exp").empty and store.count("exp") == 0
    for k, (a, r) in enumerate([(2, 1), (1, 0), (2, 0), (1, 1)]):
        store.put(f"k{k}", "exp", {"a": a}, r, pd.DataFrame({"a": [a], "replicate": [r]}))
    store.put("other", "exp_b", {"a": 0}, 0, pd.DataFrame({"a": [0], "replicate": [0]}))
    assert store.has("k0")
    assert store.keys("exp") == {"k0", "k1", "k2", "k3"}
    assert store.count("exp") == 4 and store.count("exp_b") == 1
    assert store.experiments() == ["exp", "exp_b"]
    loaded = store.load("exp")
    # deterministic order: by config, then replicate, whatever the insertion order
    assert loaded[["a", "replicate"]].values.tolist() == [[1, 0], [1, 1], [2, 0], [2, 1]]
    assert store.delete("exp") == 4
    assert store.count("exp") == 0 and store.count("exp_b") == 1


def test_put_validates(store):
    with pytest.raises(TypeError, match="frame must be a pandas DataFrame"):
        store.put("k", "exp", {}, 0, [{"a": 1}])
    with pytest.raises(TypeError, match="non-string column names"):
        store.put("k", "exp", {}, 0, pd.DataFrame({0: [1.0]}))
    with pytest.raises(TypeError, match="cannot be stored as Parquet"):
        store.put("k", "exp", {}, 0, pd.DataFrame({"mixed": [1, "a"]}, dtype=object))
    with pytest.raises(ValueError, match="replicate must be an int >= 0"):
        store.put("k", "exp", {}, -1, pd.DataFrame({"a": [1]}))
    with pytest.raises(TypeError, match=r"config\['f'\]"):
        store.put("k", "exp", {"f": print}, 0, pd.DataFrame({"a": [1]}))
    assert store.count("exp") == 0


def test_check_results(store):
    assert store.get_check("vi.rate", "quick", 0) is None and store.latest_check("vi.rate") is None
    f1 = pd.DataFrame({"t": [1, 2], "err": [0.5, 0.25]})
    store.put_check("vi.rate", "quick", 0, {"passed": True, "measured": np.float64(0.5), "ci": [0.4, 0.6]}, f1)
    summary, frame = store.get_check("vi.rate", "quick", 0)
    assert summary == {"passed": True, "measured": 0.5, "ci": [0.4, 0.6]}
    pd.testing.assert_frame_equal(frame, f1)
    f2 = pd.DataFrame({"t": [1], "err": [np.nan]})
    store.put_check("vi.rate", "full", 3, {"passed": False, "measured": float("nan")}, f2)
    summary, frame = store.latest_check("vi.rate")
    assert summary["passed"] is False and np.isnan(summary["measured"])
    pd.testing.assert_frame_equal(frame, f2)
    # re-running an older (scale, seed) replaces it and makes it the latest
    store.put_check("vi.rate", "quick", 0, {"passed": True, "measured": 0.49}, f1)
    assert store.latest_check("vi.rate")[0]["measured"] == 0.49
    assert store.get_check("vi.rate", "full", 3)[0]["passed"] is False
    assert store.latest_check("other") is None


def test_non_sqlite_file_is_refused_clearly(tmp_path):
    path = tmp_path / "notes.sqlite"
    path.write_text("these are my notes, not a database\n" * 20)
    with pytest.raises(ValueError, match="not a labkit result store"):
        ResultStore(path)
    assert path.read_text().startswith("these are my notes")  # untouched


def test_foreign_sqlite_database_is_refused(tmp_path):
    path = tmp_path / "other.db"
    con = sqlite3.connect(path)
    con.execute("CREATE TABLE people (name TEXT)")
    con.commit()
    con.close()
    with pytest.raises(ValueError, match="an SQLite database but not a labkit result store"):
        ResultStore(path)


def test_directory_and_empty_file(tmp_path):
    with pytest.raises(ValueError, match="is a directory"):
        ResultStore(tmp_path)
    empty = tmp_path / "empty.sqlite"
    empty.touch()
    ResultStore(empty).put("k", "exp", {}, 0, pd.DataFrame({"a": [1]}))
    assert ResultStore(empty).count("exp") == 1


def test_store_is_durable_wal_and_picklable(tmp_path):
    path = tmp_path / "sub" / "dir" / "s.sqlite"
    store = ResultStore(path)
    store.put("k", "exp", {"a": 1}, 0, pd.DataFrame({"a": [1]}))
    con = sqlite3.connect(path)
    assert con.execute("PRAGMA journal_mode").fetchone()[0] == "wal"
    con.close()
    again = pickle.loads(pickle.dumps(store))
    assert again.path == store.path and again.has("k")
    assert ResultStore(str(path)).keys("exp") == {"k"}


def test_many_openers_of_one_new_file_all_succeed(tmp_path):
    # regression: a reader saw the tables of a concurrent initialiser but not its header (the
    # reads were not one snapshot) and refused the file as foreign; and two initialisers could
    # deadlock in the switch to WAL, which SQLite fails at once (both now handled). Before the
    # fix about half of these trials failed.
    import threading

    for trial in range(60):
        path = tmp_path / f"s{trial}.sqlite"
        barrier, errors = threading.Barrier(6), []

        def open_it():
            barrier.wait()
            try:
                ResultStore(path).count("exp")
            except Exception as exc:  # noqa: BLE001 -- collected and reported below
                errors.append(exc)

        threads = [threading.Thread(target=open_it) for _ in range(6)]
        for t in threads:
            t.start()
        for t in threads:
            t.join()
        assert not errors, f"trial {trial}: {errors[0]}"


def test_readers_are_not_blocked_and_writers_time_out(tmp_path):
    store = ResultStore(tmp_path / "s.sqlite", timeout=0.2)
    store.put("k", "exp", {}, 0, pd.DataFrame({"a": [1]}))
    blocker = sqlite3.connect(store.path, isolation_level=None)
    blocker.execute("BEGIN IMMEDIATE")  # another process holds the write lock
    blocker.execute("DELETE FROM runs")  # ... and has an uncommitted change
    try:
        assert store.has("k") and store.count("exp") == 1  # readers see the committed state
        with pytest.raises(StoreError, match="locked"):
            store.put("k2", "exp", {}, 0, pd.DataFrame({"a": [2]}))
    finally:
        blocker.execute("ROLLBACK")
        blocker.close()
    assert store.put("k2", "exp", {}, 0, pd.DataFrame({"a": [2]}))


def test_damaged_payload_is_reported(store):
    store.put("k", "exp", {}, 0, pd.DataFrame({"a": [1]}))
    con = sqlite3.connect(store.path)
    con.execute("UPDATE runs SET payload = ? WHERE key = 'k'", (b"garbage",))
    con.commit()
    con.close()
    with pytest.raises(StoreError, match="unreadable payload"):
        store.get("k")


def test_lab_dir_and_default_store(tmp_path, monkeypatch):
    monkeypatch.delenv("LABKIT_DIR", raising=False)
    monkeypatch.chdir(tmp_path)
    assert lab_dir() == tmp_path / "lab_results" and (tmp_path / "lab_results").is_dir()
    monkeypatch.setenv("LABKIT_DIR", str(tmp_path / "elsewhere"))
    assert lab_dir() == tmp_path / "elsewhere"
    store = ResultStore()
    assert store.path == (tmp_path / "elsewhere" / "store.sqlite").resolve() and store.path.exists()


# -- code versions, migration and maintenance ----------------------------------------------------
_SCHEMA_V1 = """
CREATE TABLE runs (key TEXT PRIMARY KEY, experiment TEXT NOT NULL, config TEXT NOT NULL,
    replicate INTEGER NOT NULL, format TEXT NOT NULL, payload BLOB NOT NULL, created REAL NOT NULL);
CREATE INDEX runs_by_experiment ON runs (experiment);
CREATE TABLE checks (id INTEGER PRIMARY KEY AUTOINCREMENT, name TEXT NOT NULL, scale TEXT NOT NULL,
    seed INTEGER NOT NULL, summary TEXT NOT NULL, format TEXT NOT NULL, payload BLOB NOT NULL,
    created REAL NOT NULL, UNIQUE (name, scale, seed));
"""


def _schema_v1_store(path):
    """A store as schema version 1 wrote it (before code versions), with one run and one check."""
    from labkit.store import APPLICATION_ID, encode_frame

    con = sqlite3.connect(path)
    con.executescript(_SCHEMA_V1)
    payload = encode_frame(pd.DataFrame({"a": [1.0]}))
    con.execute("INSERT INTO runs VALUES ('old', 'exp', '{}', 0, 'parquet', ?, 1.0)", (payload,))
    con.execute("INSERT INTO checks (name, scale, seed, summary, format, payload, created) "
                "VALUES ('c', 'quick', 0, '{\"passed\": true}', 'parquet', ?, 1.0)", (payload,))
    con.execute(f"PRAGMA application_id={APPLICATION_ID}")
    con.execute("PRAGMA user_version=1")
    con.commit()
    con.close()


def test_schema_1_store_is_migrated_and_its_rows_are_never_current(tmp_path):
    path = tmp_path / "old.sqlite"
    _schema_v1_store(path)
    store = ResultStore(path)
    con = sqlite3.connect(path)
    assert con.execute("PRAGMA user_version").fetchone()[0] == 2
    con.close()
    assert store.get("old") is not None  # the data survives ...
    inv = store.inventory()
    assert set(inv["code_version"]) == {"unknown"}  # ... labelled as computed by unknown code
    assert store.get_check("c", "quick", 0, code_version="v1") is None
    assert store.get_check("c", "quick", 0)[0]["passed"] is True
    assert store.prune({"v1"}) == {"runs": 1, "checks": 1}
    assert store.inventory().empty


def test_newer_schema_is_refused_with_advice(tmp_path):
    path = tmp_path / "new.sqlite"
    ResultStore(path)
    con = sqlite3.connect(path)
    con.execute("PRAGMA user_version=99")
    con.commit()
    con.close()
    with pytest.raises(StoreError, match="newer than this labkit understands"):
        ResultStore(path)


def test_checks_are_kept_per_code_version(store):
    f = pd.DataFrame({"x": [1.0]})
    store.put_check("vi.rate", "quick", 0, {"measured": 1.0}, f, code_version="v1")
    store.put_check("vi.rate", "quick", 0, {"measured": 2.0}, f, code_version="v2")
    assert store.get_check("vi.rate", "quick", 0, code_version="v1")[0]["measured"] == 1.0
    assert store.get_check("vi.rate", "quick", 0, code_version="v2")[0]["measured"] == 2.0
    assert store.get_check("vi.rate", "quick", 0)[0]["measured"] == 2.0  # the newest, any code
    assert store.latest_check("vi.rate", code_version="v1")[0]["measured"] == 1.0
    with pytest.raises(ValueError, match="2\\*\\*63"):
        store.put_check("vi.rate", "quick", 2**63, {}, f)


def test_inventory_prune_evict_and_verify(store):
    f = pd.DataFrame({"a": [1]})
    store.put("r1", "exp", {}, 0, f, code_version="old", seconds=0.5)
    store.put("r2", "exp", {}, 1, f, code_version="new", seconds=0.25)
    store.put_check("exp", "quick", 0, {}, f, code_version="old")
    inv = store.inventory()
    assert inv[["kind", "name", "code_version", "count"]].values.tolist() == [
        ["check", "exp", "old", 1], ["runs", "exp", "old", 1], ["runs", "exp", "new", 1]]
    assert store.prune({"new"}, dry_run=True) == {"runs": 1, "checks": 1}
    assert store.count("exp") == 2  # a dry run deletes nothing
    assert store.prune({"new"}) == {"runs": 1, "checks": 1}
    assert store.keys("exp") == {"r2"}
    # a damaged payload is found by verify and removed by evict
    con = sqlite3.connect(store.path)
    con.execute("UPDATE runs SET payload = ? WHERE key = 'r2'", (b"garbage",))
    con.commit()
    con.close()
    bad = store.verify()
    assert [b[0] for b in bad] == ["r2"] and "unreadable payload" in bad[0][2]
    assert store.evict("r2") == 1 and store.evict("r2") == 0
    assert store.verify() == []
    with pytest.raises(ValueError, match="check:<id>"):
        store.evict("check:abc")


def test_put_replace_overwrites(store):
    store.put("k", "exp", {}, 0, pd.DataFrame({"a": [1]}), code_version="v")
    assert store.put("k", "exp", {}, 0, pd.DataFrame({"a": [2]}), code_version="v", replace=True)
    assert store.get("k")["a"].tolist() == [2]
