/* The map page: camera points and loudspeakers on Leaflet (vendored), grouped into clusters at low zoom, coloured
   by status and kept live by the hub's event stream (live.js, the same stream as the camera wall). A point takes
   the colour of its worst camera, a cluster the colour of its worst marker. Nothing is fetched from outside the
   hub: the base map is the province's tile server, a PMTiles file on the hub, or none (docs/MAP.md).
   Names from the registry are put in the page as text, never as HTML. */
(function () {
  'use strict';
  var cfg = JSON.parse(document.getElementById('map-data').textContent);
  var RANK = { ok: 1, unknown: 2, stale: 3, problem: 4, offline: 5 };
  var el = document.getElementById('map');

  function speakerStatus(st) { return st === 'online' ? 'ok' : (RANK[st] ? st : 'unknown'); }
  function worse(a, b) { return (RANK[b] || 0) > (RANK[a] || 0) ? b : a; }

  var map = L.map(el, { minZoom: cfg.min_zoom, maxZoom: cfg.max_zoom });
  map.attributionControl.setPrefix(false);  // the default prefix is a link out of the hub
  if (cfg.base.kind === 'tiles') {
    L.tileLayer(cfg.base.url, { attribution: cfg.base.attribution, maxZoom: cfg.max_zoom }).addTo(map);
  } else if (cfg.base.kind === 'pmtiles') {
    // Zoomed in past the file's own levels, its deepest tiles are drawn larger rather than left blank.
    var archive = new pmtiles.PMTiles(cfg.base.url);
    archive.getHeader().then(function (h) {
      pmtiles.leafletRasterLayer(archive, {
        attribution: cfg.base.attribution, maxZoom: cfg.max_zoom, minNativeZoom: h.minZoom, maxNativeZoom: h.maxZoom
      }).addTo(map);
    });
  }

  var clusters = L.markerClusterGroup({
    disableClusteringAtZoom: cfg.cluster_until_zoom + 1,
    showCoverageOnHover: false,
    animate: false,  // plain redraws: cheaper on commune phones, and no half-finished animation to race
    maxClusterRadius: 50,
    iconCreateFunction: function (cluster) {
      var worst = 'ok';
      cluster.getAllChildMarkers().forEach(function (m) { worst = worse(worst, m.options.status); });
      var span = document.createElement('span');
      span.textContent = String(cluster.getChildCount());
      return L.divIcon({ html: span, className: 'map-cluster st-' + worst, iconSize: L.point(36, 36) });
    }
  }).addTo(map);
  // Commune names lie under the markers (their own pane, below Leaflet's marker pane) and never take a click.
  map.createPane('communes').style.zIndex = 450;
  var labelLayer = L.layerGroup().addTo(map);

  var markers = {};       // marker key ("point:…" / "speaker:…") → marker
  var cameraPoint = {};   // camera key → its point's marker key
  var cameraStatus = {};  // camera key → latest status (events may come before the features)
  var speakerState = {};  // speaker key → latest status
  var loadedOnce = false;

  function pinIcon(kind, status) {
    var span = document.createElement('span');
    span.textContent = kind === 'speaker' ? '♪' : '';
    return L.divIcon({ html: span, className: 'map-pin map-' + kind + ' st-' + status, iconSize: [22, 22] });
  }

  function pointStatus(pt) {
    var st = pt.cameras.length ? 'ok' : 'unknown';
    pt.cameras.forEach(function (c) { st = worse(st, cameraStatus[c.key] || c.status); });
    return st;
  }

  function setStatus(m, status) {
    if (m.options.status === status) return;
    m.options.status = status;
    m.setIcon(pinIcon(m.options.kind, status));
    markKey(m);
    if (clusters.hasLayer(m)) clusters.refreshClusters(m);
  }

  function markKey(m) {
    var e = m.getElement();
    if (e) { e.dataset.key = m.options.key; e.dataset.status = m.options.status; }
  }

  function popupFor(pt) {
    var box = document.createElement('div');
    box.className = 'map-popup';
    var title = document.createElement('b');
    title.textContent = pt.name;
    box.appendChild(title);
    if (pt.address) {
      var addr = document.createElement('div');
      addr.className = 'muted';
      addr.textContent = pt.address;
      box.appendChild(addr);
    }
    var ul = document.createElement('ul');
    pt.cameras.forEach(function (c) {
      var li = document.createElement('li');
      var a = document.createElement('a');
      a.href = '/cameras/' + c.key;
      a.textContent = c.name;
      li.appendChild(a);
      var st = cameraStatus[c.key] || c.status;
      var extra = [cfg.labels.status[st] || st];
      if (c.purpose) extra.push(cfg.labels.purpose[c.purpose] || c.purpose);
      if (c.owner_kind) extra.push((cfg.labels.owner[c.owner_kind] || c.owner_kind) + (c.owner_name ? ': ' + c.owner_name : ''));
      var note = document.createElement('span');
      note.className = 'muted';
      note.textContent = ' · ' + extra.join(' · ');
      li.appendChild(note);
      ul.appendChild(li);
    });
    box.appendChild(ul);
    return box;
  }

  function makeMarker(kind, item, status) {
    var m = L.marker([item.lat, item.lon], {
      icon: pinIcon(kind, status), title: item.name, alt: item.name, keyboard: true,
      kind: kind, key: kind + ':' + item.key, status: status, item: item
    });
    m.on('add', function () { markKey(m); });
    if (kind === 'speaker') {
      m.on('click', function () {
        window.location.href = '/speakers?district=' + encodeURIComponent(item.district) +
          '&commune=' + encodeURIComponent(item.commune);
      });
    } else if (item.cameras.length === 1) {
      m.on('click', function () { window.location.href = '/cameras/' + item.cameras[0].key; });
    } else {
      m.bindPopup(function () { return popupFor(item); });
    }
    return m;
  }

  function filters() {
    function v(id) { var e = document.getElementById(id); return e ? e.value : ''; }
    return { commune: v('f-commune'), status: v('f-status'), purpose: v('f-purpose'), kind: v('f-kind') };
  }

  function shown(m, f) {
    var it = m.options.item;
    if (f.kind && f.kind !== m.options.kind) return false;
    if (f.commune && it.district + '/' + it.commune !== f.commune) return false;
    if (f.status && m.options.status !== f.status) return false;
    if (f.purpose) {
      if (m.options.kind !== 'point') return false;
      if (!it.cameras.some(function (c) { return c.purpose === f.purpose; })) return false;
    }
    return true;
  }

  function applyFilters() {
    var f = filters();
    var keep = [];
    Object.keys(markers).forEach(function (k) { if (shown(markers[k], f)) keep.push(markers[k]); });
    clusters.clearLayers();
    clusters.addLayers(keep);
    document.getElementById('map-count').textContent = '· ' + keep.length + ' điểm';
    if (f.commune && keep.length) {  // a commune chosen: show all of it
      map.fitBounds(keep.map(function (m) { return m.getLatLng(); }),
        { padding: [30, 30], maxZoom: cfg.cluster_until_zoom + 1, animate: false });
    }
  }

  function render(data) {
    clusters.clearLayers();
    labelLayer.clearLayers();
    markers = {};
    cameraPoint = {};
    var bounds = [];
    data.points.forEach(function (pt) {
      var m = makeMarker('point', pt, pointStatus(pt));
      markers[m.options.key] = m;
      pt.cameras.forEach(function (c) { cameraPoint[c.key] = m.options.key; });
      bounds.push([pt.lat, pt.lon]);
    });
    data.speakers.forEach(function (sp) {
      var m = makeMarker('speaker', sp, speakerStatus(speakerState[sp.key] || sp.status));
      markers[m.options.key] = m;
      bounds.push([sp.lat, sp.lon]);
    });
    data.communes.forEach(function (c) {
      var span = document.createElement('span');
      span.textContent = c.name;
      L.marker([c.lat, c.lon], {
        icon: L.divIcon({ html: span, className: 'map-commune', iconSize: null }),
        interactive: false, keyboard: false, pane: 'communes'
      }).addTo(labelLayer);
    });
    applyFilters();
    document.getElementById('map-empty').hidden = bounds.length > 0;
    if (!loadedOnce) {
      loadedOnce = true;
      if (bounds.length) {
        map.fitBounds(bounds, { padding: [30, 30], maxZoom: cfg.cluster_until_zoom + 1 });
      } else {
        map.setView(cfg.center, cfg.zoom);
      }
    }
    el.dataset.ready = 'true';
  }

  function load() {
    fetch('/api/v1/map/features', { credentials: 'same-origin' })
      .then(function (r) { if (!r.ok) throw new Error('HTTP ' + r.status); return r.json(); })
      .then(render)
      .catch(function () { document.body.classList.add('disconnected'); });
  }

  function onCamera(ev) {
    var cam = ev.camera || {};
    if (!cam.key) return;
    cameraStatus[cam.key] = cam.status;
    var mk = cameraPoint[cam.key];
    var m = mk && markers[mk];
    if (m) setStatus(m, pointStatus(m.options.item));
  }

  function onSpeaker(ev) {
    var sp = ev.speaker || {};
    if (!sp.key) return;
    speakerState[sp.key] = sp.status;
    var m = markers['speaker:' + sp.key];
    if (m) setStatus(m, speakerStatus(sp.status));
  }

  ['f-commune', 'f-status', 'f-purpose', 'f-kind'].forEach(function (id) {
    var e = document.getElementById(id);
    if (e) e.addEventListener('change', applyFilters);
  });
  document.getElementById('map-filters').addEventListener('submit', function (e) { e.preventDefault(); });

  // Each hello (the first, and after a reconnect) reloads the features: nothing missed while away.
  OPS.connect('/api/v1/events?cameras=false', { hello: load, camera: onCamera, speaker: onSpeaker });
  window.OPS_MAP = { map: map, clusters: clusters, markers: function () { return markers; } };
})();
