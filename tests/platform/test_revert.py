"""Reverting a merged submission: a commit in the plugin store, its models withdrawn."""

from __future__ import annotations

from pathlib import Path

import pytest

pytestmark = pytest.mark.db


def test_a_merged_submission_is_reverted_by_a_commit_and_its_models_withdrawn(
        tmp_path: Path, database):
    from django.contrib.auth import get_user_model

    from brainmark.platform.leaderboard.models import Model, ModelVersion
    from brainmark.platform.submissions import staff
    from brainmark.platform.submissions.models import Submission
    from brainmark.platform.submissions.processing import plugin_store
    from brainmark.settings import override_settings

    with override_settings(home=tmp_path / "home"):
        user = get_user_model().objects.create_user("ada", "ada@example.org", "x" * 20)
        submission = Submission.objects.create(user=user, kind="model", status="succeeded")
        folder = tmp_path / "archive" / "models" / "revert_net"
        folder.mkdir(parents=True)
        (folder / "__init__.py").write_text("model_registry['revert-net'] = None\n")
        store = plugin_store()
        merged = store.commit_submission(tmp_path / "archive", submission_id=submission.pk,
                                         author_name="ada", author_email="ada@example.org")
        Submission.objects.filter(pk=submission.pk).update(plugin_commit=merged)
        model = Model.objects.create(identifier="revert-net", owner=user, public=True)
        ModelVersion.objects.create(model=model, version=1, plugin_sha1="a" * 40,
                                    visual_degrees=8, submission=submission)

        sha = staff.revert_submission(submission.pk, by="staff@example.org")

        [latest, *_] = store.history()
        assert latest.sha == sha and latest.reverts_submission == submission.pk
        assert not (store.path / "models" / "revert_net").exists()
        assert Model.objects.get(pk=model.pk).withdrawn
        row = Submission.objects.get(pk=submission.pk)
        assert row.status == "succeeded"
        assert f"Reverted by staff@example.org (plugin store commit {sha[:12]}); " \
               "withdrawn: revert-net." in row.log
        with pytest.raises(staff.StaffActionError, match="was not reverted"):
            staff.revert_submission(submission.pk, by="staff@example.org")

        never = Submission.objects.create(user=user, kind="model", status="rejected")
        with pytest.raises(staff.StaffActionError, match="never merged"):
            staff.revert_submission(never.pk, by="staff@example.org")
