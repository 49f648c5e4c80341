import pytest

from keyvid.cli import main


@pytest.mark.parametrize(
    ("args", "message"),
    [
        (["train", "stage1", "model.num_keypoint=3"], "unknown config key model.num_keypoint"),
        (["train", "stage1", "optim.lr=fast"], "config key optim.lr must be a number; got 'fast'"),
        (["train", "stage1", "--config", "{tmp}/none.yaml"], "does not exist"),
        (["train", "stage1", "--resume", "{tmp}"], "is not a run folder"),
        (["train", "stage1", "data.root={tmp}/nodata", "--run", "{tmp}/r"], "does not exist"),
        (
            ["evaluate", "keypoints", "--checkpoint", "{tmp}/nope", "--data", "{tmp}"],
            "no checkpoint at",
        ),
    ],
)
def test_bad_input_is_one_line_and_exit_2(args, message, tmp_path, capsys):
    assert main([a.format(tmp=tmp_path) for a in args]) == 2
    err = capsys.readouterr().err
    assert message in err and "Traceback" not in err


def test_overrides_may_follow_options(tmp_path, capsys):
    # The override is read (and refused) even though it comes after --run.
    assert main(["train", "stage1", "--run", str(tmp_path / "r"), "model.bogus=1"]) == 2
    assert "unknown config key model.bogus" in capsys.readouterr().err
    with pytest.raises(SystemExit):
        main(["train", "stage1", "--run", str(tmp_path / "r"), "--bogus-flag"])
