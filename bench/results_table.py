#!/usr/bin/env python3
"""The README's results table from the committed bench JSON files (bench/results/*.json).

One row per (device, backend, precision, preset, batch, views): the latest result, by the time of the commit that added
the file (an uncommitted file counts as newest). A peer result (backend "diffusers ...") is compared only when it was
committed together with the FastIF result, i.e. measured side by side by bench/compare-cpu.sh. Numbers are copied from
the JSON, never typed by hand:   python3 bench/results_table.py > /tmp/rows.md
"""
import glob, json, os, subprocess, sys, time

root = os.path.join(os.path.dirname(os.path.abspath(__file__)), "..")
os.chdir(root)


def added(path):
    out = subprocess.run(["git", "log", "-1", "--format=%h %ct", "--diff-filter=A", "--", path],
                         capture_output=True, text=True).stdout.split()
    return (out[0], int(out[1])) if len(out) == 2 else (None, time.time())


results, peers = [], []
for path in sorted(glob.glob("bench/results/*.json")):
    d = json.load(open(path))
    if "ms_per_step" not in d or "backend" not in d:
        continue  # not a bench result (e.g. the T5-XXL encode notes)
    commit, when = added(path)
    (peers if d["backend"].startswith("diffusers") else results).append((when, commit, path, d))

def peer_of(commit, d):
    return next(((pp, p) for _, pc, pp, p in peers if pc is not None and pc == commit and p["preset"].startswith(d["preset"] + "-")), None)


latest = {}
for when, commit, path, d in results:
    # A side-by-side pair stays listed beside a newer solo run of the same preset: it is the only fair peer ratio.
    key = (d["device"], d["backend"], d.get("precision"), d["preset"], d.get("batch"), d.get("views", 1), peer_of(commit, d) is not None)
    if key not in latest or when >= latest[key][0]:
        latest[key] = (when, commit, path, d)

print("| device | preset | backend | ms/step (median, min–max) | GFLOP/step | floor ms (ratio) | vs diffusers, side by side | load avg | commit | JSON |")
print("|---|---|---|---|---|---|---|---|---|---|")
for when, commit, path, d in sorted(latest.values(), key=lambda r: (r[3]["device"], r[3]["preset"])):
    ms = d["ms_per_step"]
    floor = d.get("floor_ms_per_step")
    floor_cell = f"{floor:.1f} ({ms['median'] / floor:.2f}×)" if floor else "—"
    peer_cell, links = "—", f"[json]({path})"
    if (pair := peer_of(commit, d)) is not None:
        r = pair[1]["ms_per_step"]["median"] / ms["median"]
        peer_cell = f"{r:.2f}× {'faster' if r >= 1 else 'slower'}"
        links += f", [peer]({pair[0]})"
    load = d.get("machine", {}).get("loadavg") or "—"
    views = f", {d['views']} views" if d.get("views", 1) > 1 else ""
    if "cascade_presets" in d:
        views += f" ({d['cascade_presets']}, {d['stage_steps']} steps/stage; a step is the whole cascade)"
    print(f"| {d['device']} | {d['preset']}{views} | FastIF {d['backend']} {d.get('precision', '')} | "
          f"{ms['median']:.1f} ({ms['min']:.1f}–{ms['max']:.1f}) | {d['gflop_per_forward']:.2f} | {floor_cell} | {peer_cell} | {load} | {d.get('commit') or '?'} | {links} |")
