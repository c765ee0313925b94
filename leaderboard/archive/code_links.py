"""links-between-papers-and-code.json: one repository of one paper per item."""

from leaderboard.archive import values as v
from leaderboard.archive.common import Context, bulk_insert, chunks, valid_items, where_in
from leaderboard.models import CodeLink

KIND = "code-links"
FLAGS = ("official", "framework", "mentioned_in_paper", "mentioned_in_github")


def paper_for(item: dict, ctx: Context, prefix: str = "paper_") -> int | None:
    """The paper a link or a row names (created from what it says if none matches: a paper
    known only by an address that is neither arXiv nor PWC is titled by that address); None
    when it names none."""
    pwc = v.http_url(item.get(f"{prefix}url"))
    url = v.http_url(item.get(f"{prefix}url_abs"))
    arxiv = v.arxiv_id(item.get(f"{prefix}arxiv_id"), url)
    title = v.clean_text(item.get(f"{prefix}title"))[:500]
    pk = ctx.papers.find(pwc, arxiv, url, title)
    if pk or not (pwc or arxiv or title or url):
        return pk
    ctx.report.count("papers", "created")
    return ctx.new_paper(
        title=title, pwc=pwc, arxiv=arxiv, url=url, pdf_url=v.http_url(item.get(f"{prefix}url_pdf"))
    )


def import_code_links(items, ctx: Context) -> None:
    report = ctx.report
    for batch in chunks(items):
        wanted = {}
        for where, item in valid_items(batch, report, KIND):
            repo = v.http_url(item.get("repo_url"))
            if not repo:
                report.count(KIND, "skipped")
                report.warn(
                    where,
                    f"repo_url {str(item.get('repo_url'))[:80]!r} is not an "
                    "http(s) URL, link skipped",
                )
                continue
            paper = paper_for(item, ctx)
            if paper is None:
                report.count(KIND, "skipped")
                report.warn(where, "names no paper (no URL, arXiv id or title), link skipped")
                continue
            wanted[(paper, repo)] = {
                "official": v.as_bool(item.get("is_official")),
                "framework": v.clean_text(item.get("framework"))[:50],
                "mentioned_in_paper": v.as_bool(item.get("mentioned_in_paper")),
                "mentioned_in_github": v.as_bool(item.get("mentioned_in_github")),
            }
        new, changed = [], []
        for (paper, url), flags, link in _compare(wanted):
            if link is None:
                new.append(CodeLink(paper_id=paper, url=url, **flags))
            elif any(link[k] != flags[k] for k in FLAGS):
                changed.append(CodeLink(pk=link["pk"], paper_id=paper, url=url, **flags))
            else:
                report.count(KIND, "unchanged")
        bulk_insert(new)
        CodeLink.objects.bulk_update(changed, list(FLAGS), batch_size=500)
        report.count(KIND, "created", len(new))
        report.count(KIND, "updated", len(changed))


def _compare(wanted: dict):
    """(key, flags, the stored link's values or None) for each wanted (paper, url), read in one
    query of those papers and URLs (not every link of a popular paper)."""
    if not wanted:
        return
    qs = where_in(CodeLink.objects, "paper", {p for p, _ in wanted})
    rows = where_in(qs, "url", {u for _, u in wanted}).values("pk", "paper_id", "url", *FLAGS)
    have = {(r["paper_id"], r["url"]): r for r in rows}
    for key, flags in wanted.items():
        yield key, flags, have.get(key)
