"""The Python half of scripts/bench-tiles: tile lists, inputs, the load itself and the report.

Runs with Debian's /usr/bin/python3 (python3-gdal and python3-requests, both from scripts/setup), never
with TiTiler's venv, so the client is the same for both servers. Subcommands:

  scene-tiles RASTER ZMIN ZMAX COUNT SEED OUT      COUNT distinct random tiles of RASTER's extent
  extent-tiles W S E N ZMIN ZMAX SEED OUT          every tile of a lon/lat box, shuffled
  make-items SOURCE DIR COUNT                      COUNT small GeoTIFFs (64x64 crops of SOURCE), gridded
  probe RASTER_OR_BOX Z                            "z/x/y" of the tile at the centre, at zoom Z
  login URL USER PASSWORD                          prints a token
  wait-ready TIMEOUT URL...                        until every URL answers (404/503 are waited for, other
                                                   errors only warned of; headers from $BENCH_HEADER)
  load NAME PID TEMPLATE TILES CLIENTS OUT         fetches every tile of TILES, writes the measures to OUT
  report RESULTS_DIR ITEMS                         prints the report; exits 1 if any request failed
"""
import json
import math
import os
import queue
import random
import statistics
import sys
import threading
import time

import requests

TILE_SIZE = 256


# --- tile arithmetic (WebMercatorQuad, XYZ rows from the north) -------------------------------------

def lonlat_to_tile(lon, lat, z):
    n = 1 << z
    lat = max(-85.05112877980659, min(85.05112877980659, lat))
    x = (lon + 180.0) / 360.0 * n
    y = (1.0 - math.asinh(math.tan(math.radians(lat))) / math.pi) / 2.0 * n
    return x, y


def tiles_of_box(west, south, east, north, z):
    """Tiles whose area overlaps the box (a tile only touching an edge is left out)."""
    n = 1 << z
    eps = 1e-9
    x0, y0 = lonlat_to_tile(west, north, z)
    x1, y1 = lonlat_to_tile(east, south, z)
    xs = range(max(0, math.floor(x0 + eps)), min(n - 1, math.ceil(x1 - eps) - 1) + 1)
    ys = range(max(0, math.floor(y0 + eps)), min(n - 1, math.ceil(y1 - eps) - 1) + 1)
    return [(z, x, y) for x in xs for y in ys]


def raster_box(path):
    """The raster's extent in longitude and latitude (its four corners, transformed)."""
    from osgeo import gdal, osr
    gdal.UseExceptions()
    ds = gdal.Open(path)
    gt = ds.GetGeoTransform()
    src = osr.SpatialReference(wkt=ds.GetProjection())
    dst = osr.SpatialReference()
    dst.ImportFromEPSG(4326)
    for s in (src, dst):
        s.SetAxisMappingStrategy(osr.OAMS_TRADITIONAL_GIS_ORDER)
    transform = osr.CoordinateTransformation(src, dst)
    corners = [(gt[0] + px * gt[1] + py * gt[2], gt[3] + px * gt[4] + py * gt[5])
               for px in (0, ds.RasterXSize) for py in (0, ds.RasterYSize)]
    points = [transform.TransformPoint(x, y)[:2] for x, y in corners]
    lons, lats = [p[0] for p in points], [p[1] for p in points]
    return min(lons), min(lats), max(lons), max(lats)


def box_argument(text):
    """A raster path, or "W,S,E" "N" given as one comma-separated string."""
    if os.path.exists(text):
        return raster_box(text)
    return tuple(float(v) for v in text.split(","))


def write_tiles(tiles, out, box):
    with open(out, "w") as f:
        json.dump({"box": box, "tiles": tiles}, f)


def scene_tiles(raster, zmin, zmax, count, seed, out):
    box = raster_box(raster)
    every = [t for z in range(int(zmin), int(zmax) + 1) for t in tiles_of_box(*box, z)]
    rng = random.Random(int(seed))
    # Distinct tiles, so that a tile cache in either server gains nothing within the run.
    picked = rng.sample(every, min(int(count), len(every)))
    write_tiles(picked, out, box)
    print(f"{len(picked)} of the {len(every)} tiles at z{zmin}-{zmax} over the raster")


def extent_tiles(west, south, east, north, zmin, zmax, seed, out):
    box = (float(west), float(south), float(east), float(north))
    every = [t for z in range(int(zmin), int(zmax) + 1) for t in tiles_of_box(*box, z)]
    random.Random(int(seed)).shuffle(every)
    write_tiles(every, out, box)
    print(f"{len(every)} tiles at z{zmin}-{zmax} over the catalog's extent")


def probe(box_text, z):
    west, south, east, north = box_argument(box_text)
    x, y = lonlat_to_tile((west + east) / 2, (south + north) / 2, int(z))
    print(f"{z}/{int(x)}/{int(y)}")


# --- inputs --------------------------------------------------------------------------------------

def make_items(source, folder, count):
    """COUNT 64x64 RGB GeoTIFFs, each a different crop of the interior of SOURCE, laid side by side
    on a 100-column grid of 0.5-degree cells from 130W 55N (100 x 50 cells for 5,000 items), in one
    sub-folder per 5 rows (500 files each)."""
    from osgeo import gdal, osr
    gdal.UseExceptions()
    src = gdal.Open(source)
    bands = src.RasterCount
    srs = osr.SpatialReference()
    srs.ImportFromEPSG(4326)
    wkt = srs.ExportToWkt()
    driver = gdal.GetDriverByName("GTiff")
    os.makedirs(folder, exist_ok=True)
    size, cell = 64, 0.5
    for i in range(int(count)):
        column, row = i % 100, i // 100
        # RGB.byte.tif's valid pixels fill columns 150-640 of rows 100-620: every crop stays inside
        # (up to 4,000 rows).
        # Past 50 rows the crops move one pixel right, so that no two items have the same content.
        x0, y0 = 200 + column * 3 + row // 50, 150 + (row % 50) * 6
        data = src.ReadRaster(x0, y0, size, size)
        part = f"{folder}/rows{row // 5 * 5:03d}"
        os.makedirs(part, exist_ok=True)
        ds = driver.Create(f"{part}/item{i:05d}.tif", size, size, bands, gdal.GDT_Byte)
        ds.SetGeoTransform((-130 + column * cell, cell / size, 0, 55 - row * cell, 0, -cell / size))
        ds.SetProjection(wkt)
        ds.WriteRaster(0, 0, size, size, data)
        for b in range(1, bands + 1):
            ds.GetRasterBand(b).SetNoDataValue(0)
            ds.GetRasterBand(b).SetColorInterpretation(src.GetRasterBand(b).GetColorInterpretation())
        ds = None
    print(f"{count} items of {size}x{size} px in {folder}")


# --- HTTP ------------------------------------------------------------------------------------------

def headers():
    header = os.environ.get("BENCH_HEADER", "")
    if not header:
        return {}
    name, value = header.split(":", 1)
    return {name.strip(): value.strip()}


def login(url, user, password):
    reply = requests.post(f"{url}/account/login", json={"username": user, "password": password}, timeout=30)
    reply.raise_for_status()
    print(reply.json()["token"])


def wait_ready(timeout, *urls):
    deadline = time.monotonic() + float(timeout)
    session = requests.Session()
    session.headers.update(headers())
    last = {}
    for url in urls:
        while True:
            try:
                reply = session.get(url, timeout=60)
                last[url] = f"{reply.status_code} {reply.text[:120]!r}"
                if reply.status_code == 200:
                    break
                # Not there yet (404, 503) is waited for; any other answer is not waited out: the
                # measure goes on and counts the errors it meets.
                if reply.status_code not in (404, 502, 503):
                    print(f"  warning: {url} answered {last[url]}; measuring anyway")
                    break
            except requests.RequestException as error:
                last[url] = str(error)
            if time.monotonic() > deadline:
                print(f"not ready after {timeout} s: {url} answered {last[url]}", file=sys.stderr)
                sys.exit(1)
            time.sleep(0.5)


class MemoryWatch:
    """Peak RSS and PSS summed over a process and all its descendants, sampled every 50 ms."""

    def __init__(self, pid):
        self.pid = int(pid)
        self.peak_rss = self.peak_pss = 0
        self.processes = 0
        self.done = threading.Event()
        self.thread = threading.Thread(target=self.run, daemon=True)

    def tree(self):
        children = {}
        for entry in os.listdir("/proc"):
            if entry.isdigit():
                try:
                    with open(f"/proc/{entry}/stat") as f:
                        stat = f.read()
                except OSError:
                    continue
                parent = int(stat[stat.rindex(")") + 2:].split()[1])
                children.setdefault(parent, []).append(int(entry))
        found, todo = [], [self.pid]
        while todo:
            pid = todo.pop()
            found.append(pid)
            todo.extend(children.get(pid, []))
        return found

    @staticmethod
    def field(path, name):
        try:
            with open(path) as f:
                for line in f:
                    if line.startswith(name):
                        return int(line.split()[1])
        except OSError:
            pass
        return 0

    def run(self):
        pids, refreshed = [], 0.0
        while not self.done.is_set():
            if time.monotonic() - refreshed > 0.5:
                pids, refreshed = self.tree(), time.monotonic()
                self.processes = max(self.processes, len(pids))
            rss = sum(self.field(f"/proc/{p}/status", "VmRSS:") for p in pids)
            pss = sum(self.field(f"/proc/{p}/smaps_rollup", "Pss:") for p in pids)
            self.peak_rss, self.peak_pss = max(self.peak_rss, rss), max(self.peak_pss, pss)
            time.sleep(0.05)

    def __enter__(self):
        self.thread.start()
        return self

    def __exit__(self, *exc):
        self.done.set()
        self.thread.join()


def png_size(body):
    if body[:8] != b"\x89PNG\r\n\x1a\n" or body[12:16] != b"IHDR":
        return None
    return int.from_bytes(body[16:20], "big"), int.from_bytes(body[20:24], "big")


def load(name, pid, template, tiles_file, clients, out):
    with open(tiles_file) as f:
        tiles = json.load(f)["tiles"]
    work = queue.Queue()
    for tile in tiles:
        work.put(tile)
    lock = threading.Lock()
    latencies, errors, sizes = [], [], []

    def client():
        session = requests.Session()
        session.headers.update(headers())
        while True:
            try:
                z, x, y = work.get_nowait()
            except queue.Empty:
                return
            url = template.format(z=z, x=x, y=y)
            start = time.perf_counter()
            try:
                reply = session.get(url, timeout=120)
                body, status = reply.content, reply.status_code
            except requests.RequestException as error:
                body, status = b"", f"{type(error).__name__}"
            elapsed = time.perf_counter() - start
            size = png_size(body) if status == 200 else None
            with lock:
                if status != 200:
                    errors.append(f"{z}/{x}/{y}: {status} {body[:100]!r}")
                elif size != (TILE_SIZE, TILE_SIZE):
                    errors.append(f"{z}/{x}/{y}: not a {TILE_SIZE} px PNG ({size}, {reply.headers.get('content-type')})")
                else:
                    # Latencies and rates count good tiles only: a quick error must not look fast.
                    latencies.append(elapsed)
                    sizes.append(len(body))

    with MemoryWatch(pid) as memory:
        started = time.perf_counter()
        threads = [threading.Thread(target=client) for _ in range(int(clients))]
        for t in threads:
            t.start()
        for t in threads:
            t.join()
        wall = time.perf_counter() - started
    result = {
        "name": name, "requests": len(tiles), "good": len(latencies), "clients": int(clients), "seconds": wall,
        "latencies": sorted(latencies), "errors": errors,
        "mean_png_kib": statistics.mean(sizes) / 1024 if sizes else 0,
        "peak_rss_kib": memory.peak_rss, "peak_pss_kib": memory.peak_pss, "processes": memory.processes,
    }
    with open(out, "w") as f:
        json.dump(result, f)
    print(f"  {name}: {len(tiles)} requests in {wall:.1f} s, {len(errors)} errors")


# --- report ----------------------------------------------------------------------------------------

def percentile(values, p):
    """Nearest rank on sorted values, in milliseconds."""
    if not values:
        return float("nan")
    return values[min(len(values) - 1, max(0, math.ceil(p * len(values)) - 1))] * 1000


def report(folder, items="5000"):
    def read(name):
        path = os.path.join(folder, f"{name}.json")
        if not os.path.exists(path):
            return None
        with open(path) as f:
            return json.load(f)

    ours, titiler, first = read("ours"), read("titiler"), read("catalog")
    failed = False
    print()
    if ours or titiler:
        n = (ours or titiler)["requests"]
        print(f"one 4096x4096 RGB COG, {n} distinct 256 px PNG tiles at z8-12, {(ours or titiler)['clients']} clients")
        print(f"  {'server':<22} {'tiles/s':>8} {'p50 ms':>8} {'p95 ms':>8} {'max ms':>8} {'RSS MiB':>8} {'PSS MiB':>8} {'procs':>5} {'PNG KiB':>8} {'errors':>6}")
        for label, r in (("tile serve", ours), ("TiTiler (2 workers)", titiler)):
            if r is None:
                print(f"  {label:<22} (not run)")
                continue
            lat = r["latencies"]
            print(f"  {label:<22} {r['good'] / r['seconds']:8.1f} {percentile(lat, .5):8.1f} {percentile(lat, .95):8.1f} "
                  f"{percentile(lat, 1):8.1f} {r['peak_rss_kib'] / 1024:8.1f} {r['peak_pss_kib'] / 1024:8.1f} "
                  f"{r['processes']:5d} {r['mean_png_kib']:8.1f} {len(r['errors']):6d}")
            failed |= bool(r["errors"])
        if ours and titiler:
            speed = (ours["good"] / ours["seconds"]) / (titiler["good"] / titiler["seconds"])
            print(f"  tile serve / TiTiler: tiles/s {speed:.2f}, p95 {percentile(ours['latencies'], .95) / percentile(titiler['latencies'], .95):.2f}, "
                  f"peak RSS {ours['peak_rss_kib'] / titiler['peak_rss_kib']:.2f}, peak PSS {ours['peak_pss_kib'] / titiler['peak_pss_kib']:.2f}")
    if first:
        lat = first["latencies"]
        print(f"catalog of {int(items):,} items (64x64 px each): every z0-7 tile once, {first['requests']} tiles, {first['clients']} clients")
        print(f"  first request: p50 {percentile(lat, .5):.1f} ms, p95 {percentile(lat, .95):.1f} ms [target <= 300], "
              f"max {percentile(lat, 1):.1f} ms; {first['good'] / first['seconds']:.1f} tiles/s; "
              f"peak RSS {first['peak_rss_kib'] / 1024:.1f} MiB; errors {len(first['errors'])}")
        failed |= bool(first["errors"])
    for r in (ours, titiler, first):
        if r and r["errors"]:
            print(f"  {r['name']} errors, first ones: {r['errors'][:3]}")
    sys.exit(1 if failed else 0)


if __name__ == "__main__":
    commands = {"scene-tiles": scene_tiles, "extent-tiles": extent_tiles, "make-items": make_items,
                "probe": probe, "login": login, "wait-ready": wait_ready, "load": load, "report": report}
    if len(sys.argv) < 2 or sys.argv[1] not in commands:
        sys.exit(__doc__)
    commands[sys.argv[1]](*sys.argv[2:])
