"""`make docs`: regenerate runbooks/ — six service-replacement runbooks, an architecture diagram, a
state-management guide, an implementation checklist and a reliability report per cloud and environment,
and the index — from the synthesized stacks and the rule pack's results.

    python -m tools.docs                 every cloud (tools/docs/<cloud>/)
    python -m tools.docs --out /tmp/rb   somewhere else (the drift test compares the two)
"""

from __future__ import annotations

import argparse
import sys
import tempfile
from pathlib import Path

from refarch.errors import SpecError
from refarch.platforms import CLOUDS
from tools.docs import render
from tools.docs.inputs import RUNBOOKS_DIR, load


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(
        description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter
    )
    parser.add_argument("--out", type=Path, default=RUNBOOKS_DIR, help="output directory (default runbooks/)")
    args = parser.parse_args(argv)
    try:
        with tempfile.TemporaryDirectory(prefix="docs-cdk.out-") as assembly:
            documents = render.documents(load(Path(assembly)))
    except SpecError as exc:
        print(exc, file=sys.stderr)
        return 2
    except ValueError as exc:
        # A model that lacks what a document states (tools/docs/aws/template.py's TemplateError and the
        # generators' own checks): name it rather than print a traceback.
        print(f"docs: {exc}", file=sys.stderr)
        return 1
    written = render.write(documents, args.out)
    print(f"docs: {len(written)} documents in {args.out} for {', '.join(CLOUDS)}")
    return 0


if __name__ == "__main__":
    sys.exit(main())
