import subprocess

from broker.models import AgentInfo
from node_agent.awareness import find_overlaps, read_git_state


def git(cwd, *args):
    subprocess.run(["git", "-C", str(cwd), *args], check=True, capture_output=True)


def test_git_state_of_a_real_repository(tmp_path):
    git(tmp_path, "init", "-q", "-b", "feature")
    (tmp_path / "kept.py").write_text("x\n")
    (tmp_path / "old.py").write_text("y\n")
    git(tmp_path, "add", ".")
    git(tmp_path, "-c", "user.email=t@t", "-c", "user.name=t", "commit", "-qm", "init")
    (tmp_path / "kept.py").write_text("changed\n")
    (tmp_path / "new dir").mkdir()
    (tmp_path / "new dir" / "a b.py").write_text("new\n")
    git(tmp_path, "mv", "old.py", "renamed.py")
    state = read_git_state(str(tmp_path))
    assert state.branch == "feature"
    assert state.repo.startswith("root:")
    assert state.changed_files == ["kept.py", "new dir/a b.py", "renamed.py"]


def test_not_a_repository(tmp_path):
    assert read_git_state(str(tmp_path)).repo == ""


def test_overlaps_need_the_same_repo_and_path():
    agents = [
        AgentInfo(id="a.x", node="a", repo="r1", changed_files=["app.py", "a.py"]),
        AgentInfo(id="b.y", node="b", repo="r1", changed_files=["app.py"]),
        AgentInfo(id="c.z", node="c", repo="r2", changed_files=["app.py"]),
    ]
    [overlap] = find_overlaps(agents)
    assert (overlap.repo, overlap.path, overlap.agents) == ("r1", "app.py", ("a.x", "b.y"))


def test_agents_sharing_one_checkout_do_not_overlap_with_each_other():
    shared = {"node": "a", "repo": "r1", "cwd": "/src/app", "changed_files": ["app.py"]}
    agents = [AgentInfo(id="a.x", **shared), AgentInfo(id="a.y", **shared)]
    assert find_overlaps(agents) == []
    other = AgentInfo(id="b.z", node="b", repo="r1", cwd="/src/app", changed_files=["app.py"])
    [overlap] = find_overlaps([*agents, other])
    assert overlap.agents == ("a.x", "a.y", "b.z")
