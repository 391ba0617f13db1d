"""Ding et al. Tables 14-15 (adversarial training) end to end on the quick setting, from a private cache."""

import os

from keras_advinterp import runner


def test_quick_run_writes_both_tables_beside_the_paper(tmp_path):
    exp = runner.load_experiment("ding2023/table14_15_adversarial_training")
    rec = runner.run(exp, quick=True, out_dir=tmp_path, progress=False)
    table = rec["table"]
    assert [(r["table"], r["adversarial training images"]) for r in table] == [(14, 16), (15, 16)]
    for r in table:
        assert 0 <= r["acc. clean %"] <= 100 and 0 <= r["acc. adversarial %"] <= 100
        assert 0 <= r["acc. white-box PGD %"] <= 100 and 0 <= r["acc. other adversarial set %"] <= 100
        assert r["acc. clean, pre-trained %"] > 80  # the embedded shapes model before retraining
    assert table[0]["pre-trained (paper) %"] == "41.77 / 4.43" and table[1]["pre-trained (paper) %"] == "41.77 / 0.13"
    assert any("fixed set of adversarial images" in n for n in rec["notes"])
    md = open(rec["files"]["md"]).read()
    assert "Tables 14-15" in md and "quick run" in md
    assert os.path.getsize(rec["files"]["png"]) > 5000
