"""The report's metadata: what the title page and the table of shares print, checked first."""

import pytest
import yaml

from helpers.pipeline import pdf


def _metadata(tmp_path, change):
    meta = yaml.safe_load(pdf.load_metadata.__defaults__[0].read_text())
    change(meta)
    path = tmp_path / "metadata.yaml"
    path.write_text(yaml.safe_dump(meta))
    return path


@pytest.mark.parametrize(("change", "message"), [
    (lambda m: m["tasks"]["task1_pca"]["shares"].update({"Author One": 45}), "task1_pca add up to 105"),
    (lambda m: m["tasks"]["task1_pca"]["hours"].update({"implementation": "\\input{/etc/hostname}"}),
     "task task1_pca: implementation must be a finite number"),
    (lambda m: m["tasks"]["task1_pca"]["shares"].update({"Author One": float("nan")}),
     "task task1_pca: Author One must be a finite number, got nan"),
    (lambda m: m.update({"title": ["a", "list"]}), "title, subtitle, course and group are texts"),
])
def test_metadata_that_would_print_nonsense_is_refused(tmp_path, change, message):
    with pytest.raises(pdf.ReportError, match=message):
        pdf.load_metadata(_metadata(tmp_path, change))


def test_the_metadata_in_the_repository_is_accepted():
    assert set(pdf.load_metadata()["tasks"]) == {"task1_pca", "task2_diffusion_maps", "task3_vae_mnist",
                                                 "task4_fire_evacuation"}


def test_a_report_that_cannot_be_written_says_so_in_a_sentence(monkeypatch, capsys):
    import errno

    def full(*args, **kwargs):
        raise OSError(errno.ENOSPC, "No space left on device", "report/build/report.pdf")

    monkeypatch.setattr(pdf, "build_report", full)
    assert pdf.main([]) == 1
    assert capsys.readouterr().err == ("report: cannot write report/build/report.pdf: No space left on device.\n"
                                       "The previous report (if any) was kept.\n")
