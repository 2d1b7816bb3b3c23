"""The plots draw what their legends and captions promise."""

import matplotlib.pyplot as plt

from helpers.core import data
from helpers.notebook import figures, plots
from helpers.pca import PCA


def test_the_principal_directions_figure_draws_both_arrows_its_legend_names():
    points = data.load_pca_dataset()
    fig = plots.principal_directions(points, PCA().fit(points))
    assert figures.undrawn(fig) == []
    arrows = [text for text in fig.axes[0].texts if text.arrow_patch is not None]
    assert len(arrows) == 2
    plt.close(fig)
