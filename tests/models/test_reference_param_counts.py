"""The papers' reference configurations match their published parameter counts within 5 %."""

import pytest

from neuralpde.cli import main
from neuralpde.models.references import parameter_count, references

REFERENCES = {ref.name: ref for ref in references()}


@pytest.mark.parametrize("name", sorted(REFERENCES))
def test_reference_configs_match_published_parameter_counts(name):
    ref = REFERENCES[name]
    ours = parameter_count(ref.config)
    assert abs(ours - ref.published) <= 0.05 * ref.published, (name, ours, ref.published)


def test_models_command_prints_the_table(capsys, monkeypatch):
    monkeypatch.setattr("neuralpde.models.references.parameter_count", lambda config: 1)
    assert main(["models"]) == 0
    out = capsys.readouterr().out
    assert "registered models: factformer, fno, ifactformer_m, sinenet, unet" in out
    assert all(name in out for name in REFERENCES)
