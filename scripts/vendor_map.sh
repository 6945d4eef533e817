#!/usr/bin/env bash
# Vendors the map page's JavaScript (docs/MAP.md): Leaflet, Leaflet.markercluster and the PMTiles reader, from
# the npm registry into hub/web/static/ (flat names: the hub serves no sub-folders), with their licences in
# hub/web/static/licences/. The source-map comments are taken off (the maps are not vendored, and a browser's
# developer tools would otherwise ask the hub for them). Run from the repository root; change a version below,
# run, look at the page (make demo → /map), run tests/browser/test_map_browser.py, commit the files.
set -euo pipefail
LEAFLET=1.9.4
MARKERCLUSTER=1.5.3   # 2.x is for Leaflet 2
PMTILES=4.5.0
STATIC=hub/web/static
work=$(mktemp -d)
trap 'rm -rf "$work"' EXIT
(cd "$work" && npm pack --silent "leaflet@$LEAFLET" "leaflet.markercluster@$MARKERCLUSTER" "pmtiles@$PMTILES" >/dev/null)
for f in "$work"/*.tgz; do mkdir -p "${f%.tgz}" && tar xzf "$f" -C "${f%.tgz}"; done
L="$work/leaflet-$LEAFLET/package"
M="$work/leaflet.markercluster-$MARKERCLUSTER/package"
P="$work/pmtiles-$PMTILES/package"
strip_map() { sed -e '/^\/\/# sourceMappingURL=/d' -e 's#/\*\# sourceMappingURL=[^*]*\*/##' "$1" > "$2"; }
strip_map "$L/dist/leaflet.js" "$STATIC/leaflet.js"
strip_map "$L/dist/leaflet.css" "$STATIC/leaflet.css"
strip_map "$M/dist/leaflet.markercluster.js" "$STATIC/leaflet-markercluster.js"
strip_map "$M/dist/MarkerCluster.css" "$STATIC/leaflet-markercluster.css"
strip_map "$P/dist/pmtiles.js" "$STATIC/pmtiles.js"
mkdir -p "$STATIC/licences"
cp "$L/LICENSE" "$STATIC/licences/leaflet-LICENSE.txt"
cp "$M/MIT-LICENCE.txt" "$STATIC/licences/leaflet-markercluster-LICENSE.txt"
# The pmtiles package names its licence (BSD-3-Clause) without shipping the text: it is the repository's.
cat > "$STATIC/licences/pmtiles-LICENSE.txt" <<'LICENCE'
pmtiles (npm) — https://github.com/protomaps/PMTiles — BSD-3-Clause

Copyright 2021 Protomaps LLC

Redistribution and use in source and binary forms, with or without modification, are permitted provided that the following conditions are met:

1. Redistributions of source code must retain the above copyright notice, this list of conditions and the following disclaimer.

2. Redistributions in binary form must reproduce the above copyright notice, this list of conditions and the following disclaimer in the documentation and/or other materials provided with the distribution.

3. Neither the name of the copyright holder nor the names of its contributors may be used to endorse or promote products derived from this software without specific prior written permission.

THIS SOFTWARE IS PROVIDED BY THE COPYRIGHT HOLDERS AND CONTRIBUTORS "AS IS" AND ANY EXPRESS OR IMPLIED WARRANTIES, INCLUDING, BUT NOT LIMITED TO, THE IMPLIED WARRANTIES OF MERCHANTABILITY AND FITNESS FOR A PARTICULAR PURPOSE ARE DISCLAIMED. IN NO EVENT SHALL THE COPYRIGHT HOLDER OR CONTRIBUTORS BE LIABLE FOR ANY DIRECT, INDIRECT, INCIDENTAL, SPECIAL, EXEMPLARY, OR CONSEQUENTIAL DAMAGES (INCLUDING, BUT NOT LIMITED TO, PROCUREMENT OF SUBSTITUTE GOODS OR SERVICES; LOSS OF USE, DATA, OR PROFITS; OR BUSINESS INTERRUPTION) HOWEVER CAUSED AND ON ANY THEORY OF LIABILITY, WHETHER IN CONTRACT, STRICT LIABILITY, OR TORT (INCLUDING NEGLIGENCE OR OTHERWISE) ARISING IN ANY WAY OUT OF THE USE OF THIS SOFTWARE, EVEN IF ADVISED OF THE POSSIBILITY OF SUCH DAMAGE.
LICENCE
printf 'leaflet %s\nleaflet.markercluster %s\npmtiles %s\n' "$LEAFLET" "$MARKERCLUSTER" "$PMTILES" > "$STATIC/licences/VERSIONS.txt"
echo "vendored: leaflet $LEAFLET, leaflet.markercluster $MARKERCLUSTER, pmtiles $PMTILES"
