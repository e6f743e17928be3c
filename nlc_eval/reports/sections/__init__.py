"""What each report shows, as data: one module per report kind.

``cluster``, ``family``, ``formation``, ``impact``, ``authority`` and ``comparison`` hold the
sections of each report kind (the notebooks call one function per section and display what
comes back with :meth:`Section.show_text`, :meth:`Section.show_table` and
:meth:`Section.show_figure`); ``tracking`` holds the dashboard, drivers and gaps that the
cluster and authority pages share; ``_common`` the :class:`Section` itself and the helpers
every kind uses. Every table a section returns has been through
:func:`nlc_eval.disclosure.suppress`, and its headings come from
:mod:`nlc_eval.reports.measures`. Sections never import the batch or the context module.
"""

from nlc_eval.reports.sections._common import Figure, Section, Table, headlines_markdown

__all__ = ["Figure", "Section", "Table", "headlines_markdown"]
