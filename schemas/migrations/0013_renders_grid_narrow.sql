-- A narrower grid index (issue 16: 100,000 render rows/s; docs/BENCHMARKS.md, "Store
-- inserts").
--
-- 0009_renders_slim.sql indexed the grid as (sampler, cfg, pose, tone, steps, clip_skip,
-- scheduler). Its leading columns repeat heavily (a few samplers, a few CFG values), so
-- every insert compared long runs of equal prefixes field by field, at a random place in
-- the index: a raw-SQLite harness with the store's rows and statements inserted about
-- 35 % more rows/s without the index, 15 to 20 % more with (sampler, cfg) alone. The
-- queries it serves keep their plans: an equality on the sampler with a range or order
-- on CFG walks (sampler, cfg) in CFG order; pose, tone, steps, clip skip and scheduler,
-- when filtered too, are checked on the rows the index yields.
--
-- Append-only like 0001_initial.sql.

DROP INDEX renders_grid;
CREATE INDEX renders_grid ON renders (sampler, cfg);
