"""Sphinx configuration of the sklearn-aimc documentation.

Build from the repository root::

    python -m sphinx -b html -W --keep-going docs docs/_build/html

Add ``-D plot_gallery=0`` to build without running the gallery examples.
"""

import importlib.util
import os
import warnings
from datetime import date

import sklearn_aimc

# -- Project -----------------------------------------------------------------
project = "sklearn-aimc"
author = "sklearn-aimc developers"
copyright = f"{date.today().year}, {author}"
release = sklearn_aimc.__version__
version = ".".join(release.split(".")[:2])

# -- General -----------------------------------------------------------------
extensions = [
    "sphinx.ext.autodoc",
    "sphinx.ext.autosummary",
    "sphinx.ext.mathjax",
    "sphinx.ext.viewcode",
    "numpydoc",
    "sphinx_gallery.gen_gallery",
]

templates_path = ["_templates"]
exclude_patterns = [
    "_build",
    "README.md",
    "Thumbs.db",
    ".DS_Store",
    "auto_examples/*.ipynb",
    "auto_examples/*.py",
    "auto_examples/*.zip",
    "auto_examples/*.json",
    "auto_examples/*.md5",
    "sg_execution_times.rst",
]
root_doc = "index"
default_role = "literal"
pygments_style = "sphinx"

# -- autodoc / autosummary / numpydoc -----------------------------------------
# sklearn_aimc.torch needs PyTorch (the 'torch' extra); without it autodoc mocks torch.
autodoc_mock_imports = [] if importlib.util.find_spec("torch") else ["torch"]
autosummary_generate = True
autosummary_imported_members = False
autodoc_default_options = {"members": True, "inherited-members": True}
autodoc_typehints = "none"
autodoc_member_order = "groupwise"
# The class template lists the members itself (see _templates/autosummary).
numpydoc_show_class_members = False
numpydoc_class_members_toctree = False
numpydoc_attributes_as_param_list = True
numpydoc_xref_param_type = False

# -- HTML --------------------------------------------------------------------
html_theme = "pydata_sphinx_theme"
html_title = f"sklearn-aimc {release}"
html_static_path = []
html_theme_options = {
    "navbar_align": "left",
    "show_toc_level": 2,
    "footer_start": ["copyright"],
    "footer_end": ["sphinx-version"],
}
html_show_sourcelink = False

# -- sphinx-gallery ------------------------------------------------------------
sphinx_gallery_conf = {
    "examples_dirs": "../examples",
    "gallery_dirs": "auto_examples",
    "filename_pattern": r"/plot_",
    "doc_module": ("sklearn_aimc",),
    "backreferences_dir": os.path.join("generated", "backreferences"),
    "reference_url": {"sklearn_aimc": None},
    "inspect_global_variables": False,
    "remove_config_comments": True,
    "within_subsection_order": "FileNameSortKey",
    "download_all_examples": False,
    "show_memory": False,
    "matplotlib_animations": False,
    "image_scrapers": ("matplotlib",),
    "min_reported_time": 1,
}

# Examples must not need a display.
os.environ.setdefault("MPLBACKEND", "Agg")
warnings.filterwarnings(
    "ignore",
    category=UserWarning,
    message="Matplotlib is currently using agg, which is a non-GUI backend",
)


# -- Links to scikit-learn's documentation --------------------------------------
# The build runs offline, so intersphinx cannot fetch scikit-learn's inventory.
# References that Sphinx cannot resolve locally and that point into
# scikit-learn (``sklearn.*`` objects, glossary terms, and the user-guide labels
# used by the docstrings our estimators inherit from scikit-learn) become
# links to scikit-learn's website instead.
SKLEARN_URL = "https://scikit-learn.org/stable/"
SKLEARN_LABELS = {
    "metadata_routing": ("metadata_routing.html", "metadata routing"),
    "df_output_transform": (
        "search.html?q=set_output",
        "set_output API",
    ),
    "r2_score": ("modules/model_evaluation.html#r2-score", "R² score"),
    "accuracy_score": ("modules/model_evaluation.html#accuracy-score", "accuracy score"),
}


def _sklearn_object_url(target):
    """URL of a ``sklearn.*`` object's page on scikit-learn's website, or None."""
    import importlib
    import inspect

    parts = target.split(".")
    for split in range(len(parts), 0, -1):
        try:
            obj = importlib.import_module(".".join(parts[:split]))
        except ImportError:
            continue
        path = parts[:split]
        for name in parts[split:]:
            try:
                obj = getattr(obj, name)
            except AttributeError:
                return None
            path.append(name)
            if inspect.isclass(obj) or inspect.isfunction(obj):
                page = ".".join(path)
                anchor = "" if page == target else "#" + target
                return f"{SKLEARN_URL}modules/generated/{page}.html{anchor}"
        if inspect.ismodule(obj):
            return f"{SKLEARN_URL}api/{'.'.join(parts[:2])}.html#module-{target}"
        return None
    return None


def resolve_sklearn_reference(app, env, node, contnode):
    from docutils import nodes

    reftype, target = node.get("reftype"), node.get("reftarget", "")
    url, title = None, None
    if reftype == "term":
        url = f"{SKLEARN_URL}glossary.html#term-{nodes.make_id(target)}"
    elif reftype == "ref" and target in SKLEARN_LABELS:
        page, title = SKLEARN_LABELS[target]
        url = SKLEARN_URL + page
    elif reftype == "ref" and target.startswith("sphx_glr_auto_examples_"):
        if "docstring of sklearn." in str(node.source or ""):
            path = target[len("sphx_glr_auto_examples_"):].replace("_plot_", "/plot_", 1)
            url = f"{SKLEARN_URL}auto_examples/{path.removesuffix('.py')}.html"
            title = "scikit-learn example"
    elif node.get("refdomain") == "py" and (target == "sklearn" or target.startswith("sklearn.")):
        url = _sklearn_object_url(target)
    if url is None:
        return None
    if reftype == "ref" and not node.get("refexplicit") and title:
        contnode = nodes.inline(title, title)
    reference = nodes.reference("", "", internal=False, refuri=url, reftitle="scikit-learn")
    reference.append(contnode)
    return reference


def setup(app):
    app.connect("missing-reference", resolve_sklearn_reference)
