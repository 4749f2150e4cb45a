//! Contour lines of a gridded function by marching squares, joined into polylines.

use std::collections::{HashMap, VecDeque};

/// Polylines where the W x H row-major grid `z` crosses `level`, in grid coordinates: (i, j) is
/// grid node z[j·W + i], fractional between nodes. Cells with a non-finite corner are skipped.
/// A saddle cell (two diagonally opposite corners above, two below) is resolved by the mean of
/// its corners.
pub fn contour(z: &[f64], width: usize, height: usize, level: f64) -> Vec<Vec<(f64, f64)>> {
    let c = crossings(z, width, height, level);
    join(&c.segments)
        .into_iter()
        .map(|chain| chain.iter().map(|id| c.point[id]).collect())
        .collect()
}

/// Where a level crosses the grid: the crossing on each edge it crosses, by edge id, and the
/// segments that join two crossings across a cell.
struct Crossings {
    point: HashMap<usize, (f64, f64)>,
    segments: Vec<(usize, usize)>,
}

/// Marching squares: the crossings of `level`.
///
/// A crossing sits on a grid edge: horizontal edge (i,j)-(i+1,j) has id 2(jW+i), vertical edge
/// (i,j)-(i,j+1) has id 2(jW+i)+1. Each edge is shared by at most two cells, so each crossing
/// ends at most two segments: joining them is a walk along a chain.
fn crossings(z: &[f64], width: usize, height: usize, level: f64) -> Crossings {
    let at = |i: usize, j: usize| z[j * width + i];
    let h_edge = |i: usize, j: usize| 2 * (j * width + i);
    let v_edge = |i: usize, j: usize| 2 * (j * width + i) + 1;
    let mut point: HashMap<usize, (f64, f64)> = HashMap::new();
    let mut segments: Vec<(usize, usize)> = Vec::new();
    let cross = |za: f64, zb: f64| (level - za) / (zb - za);
    for j in 0..height.saturating_sub(1) {
        for i in 0..width.saturating_sub(1) {
            let (a, b, c, d) = (at(i, j), at(i + 1, j), at(i + 1, j + 1), at(i, j + 1));
            if !(a.is_finite() && b.is_finite() && c.is_finite() && d.is_finite()) {
                continue;
            }
            let above = [a >= level, b >= level, c >= level, d >= level];
            // Edges in order top (a-b), right (b-c), bottom (d-c), left (a-d).
            let edges = [
                (above[0] != above[1]).then(|| (h_edge(i, j), (i as f64 + cross(a, b), j as f64))),
                (above[1] != above[2])
                    .then(|| (v_edge(i + 1, j), (i as f64 + 1.0, j as f64 + cross(b, c)))),
                (above[3] != above[2])
                    .then(|| (h_edge(i, j + 1), (i as f64 + cross(d, c), j as f64 + 1.0))),
                (above[0] != above[3]).then(|| (v_edge(i, j), (i as f64, j as f64 + cross(a, d)))),
            ];
            let hit: Vec<(usize, (f64, f64))> = edges.iter().flatten().copied().collect();
            for &(id, p) in &hit {
                point.insert(id, p);
            }
            match hit.len() {
                2 => segments.push((hit[0].0, hit[1].0)),
                4 => {
                    let centre_above = (a + b + c + d) / 4.0 >= level;
                    let [top, right, bottom, left] = edges.map(|e| e.map_or(0, |e| e.0));
                    if centre_above == above[0] {
                        // a's region joins c's through the centre: cut off b and d.
                        segments.push((top, right));
                        segments.push((bottom, left));
                    } else {
                        segments.push((top, left));
                        segments.push((right, bottom));
                    }
                }
                _ => {}
            }
        }
    }
    Crossings { point, segments }
}

/// Joins segments that share an end into chains of edge ids, in the order of their first
/// segment; each chain grows forward from that segment, then backward.
fn join(segments: &[(usize, usize)]) -> Vec<VecDeque<usize>> {
    let mut ends: HashMap<usize, Vec<usize>> = HashMap::new();
    for (k, &(p, q)) in segments.iter().enumerate() {
        ends.entry(p).or_default().push(k);
        ends.entry(q).or_default().push(k);
    }
    let mut used = vec![false; segments.len()];
    let mut lines = Vec::new();
    for start in 0..segments.len() {
        if used[start] {
            continue;
        }
        used[start] = true;
        let (p, q) = segments[start];
        let mut chain = VecDeque::from([p, q]);
        for forward in [true, false] {
            loop {
                let tip = if forward {
                    chain[chain.len() - 1]
                } else {
                    chain[0]
                };
                let next = ends[&tip].iter().copied().find(|&k| !used[k]);
                let Some(k) = next else { break };
                used[k] = true;
                let (a, b) = segments[k];
                let other = if a == tip { b } else { a };
                if forward {
                    chain.push_back(other);
                } else {
                    chain.push_front(other);
                }
            }
        }
        lines.push(chain);
    }
    lines
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn a_circle_is_one_closed_line_at_the_right_radius() {
        let n = 41;
        let c = 20.0;
        let z: Vec<f64> = (0..n * n)
            .map(|k| {
                let (i, j) = ((k % n) as f64, (k / n) as f64);
                ((i - c).powi(2) + (j - c).powi(2)).sqrt()
            })
            .collect();
        let lines = contour(&z, n, n, 10.0);
        assert_eq!(lines.len(), 1);
        let l = &lines[0];
        assert_eq!(l.first(), l.last(), "closed");
        for &(i, j) in l {
            let r = ((i - c).powi(2) + (j - c).powi(2)).sqrt();
            // Linear interpolation of a cone between nodes: within a small fraction of a cell.
            assert!((r - 10.0).abs() < 0.1, "{r}");
        }
        // No crossing at a level outside the range; a NaN hole removes its cells.
        assert!(contour(&z, n, n, 100.0).is_empty());
    }

    #[test]
    fn a_straight_level_line_is_open_and_exact() {
        // z = i (columns 0..4), 3 rows: level 1.5 crosses at i = 1.5 on every row.
        let z: Vec<f64> = (0..15).map(|k| (k % 5) as f64).collect();
        let lines = contour(&z, 5, 3, 1.5);
        assert_eq!(lines.len(), 1);
        let mut l = lines[0].clone();
        l.sort_by(|a, b| a.1.total_cmp(&b.1));
        assert_eq!(l, vec![(1.5, 0.0), (1.5, 1.0), (1.5, 2.0)]);
    }
}
