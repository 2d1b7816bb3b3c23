#!/usr/bin/env bash
# Make sure the tools that build the report are present: XeLaTeX with the LaTeX packages the
# template uses, fonts that cover what the notebooks print, pandoc (nbconvert's markdown to
# LaTeX) and pdftotext (report tests). On a Debian-like system, as root, missing tools are
# installed; otherwise the script names the packages to install.
#   scripts/system-deps.sh          stop with an error if anything is missing
#   scripts/system-deps.sh --try    only warn (the LaTeX tests are then skipped)
set -euo pipefail

PACKAGES=(texlive-xetex texlive-latex-recommended texlive-latex-extra texlive-fonts-recommended
          texlive-plain-generic fonts-dejavu-core fonts-dejavu-extra fontconfig pandoc poppler-utils)

missing() {
  local tool sty
  for tool in xelatex kpsewhich pandoc pdftotext pdfinfo fc-list; do
    command -v "$tool" >/dev/null 2>&1 || echo "$tool"
  done
  if command -v kpsewhich >/dev/null 2>&1; then
    for sty in fontspec.sty adjustbox.sty placeins.sty booktabs.sty caption.sty parskip.sty hyperref.sty; do
      [ -n "$(kpsewhich "$sty")" ] || echo "$sty"
    done
  fi
  if command -v fc-list >/dev/null 2>&1; then
    # Read the whole list first: `fc-list | grep -q` fails under pipefail when grep stops early.
    local fonts
    fonts=$(fc-list : family style)
    grep -q "DejaVu Serif.*Italic" <<<"$fonts" || echo "font:DejaVu-Serif-Italic"
  fi
}

todo=$(missing | tr '\n' ' ')
[ -z "$todo" ] && exit 0

install() {
  # Another apt or dpkg (unattended upgrades) may hold dpkg's lock: wait up to ten minutes for it.
  local wait=(-o DPkg::Lock::Timeout=600)
  export DEBIAN_FRONTEND=noninteractive
  apt-get "${wait[@]}" update -qq && apt-get "${wait[@]}" install -y -qq --no-install-recommends "${PACKAGES[@]}" >/dev/null
}

if [ "$(id -u)" = 0 ] && command -v apt-get >/dev/null 2>&1; then
  echo "==> installing the LaTeX toolchain (missing: $todo)"
  install || echo "warning: apt-get could not install the toolchain (see its message above)." >&2
  todo=$(missing | tr '\n' ' ')
  [ -z "$todo" ] && exit 0
fi

message="the report's LaTeX toolchain is incomplete (missing: $todo). On Debian or Ubuntu run: sudo apt-get install ${PACKAGES[*]}"
if [ "${1:-}" = "--try" ]; then
  echo "warning: $message; the tests that build the report will be skipped." >&2
  exit 0
fi
echo "error: $message" >&2
exit 1
