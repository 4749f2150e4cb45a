// walk.wgsl placeholder
