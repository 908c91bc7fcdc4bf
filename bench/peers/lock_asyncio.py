#!/usr/bin/env python3
"""lock_contention on asyncio (the shared loop_asyncio.py peer has no lock case):
100 tasks each take one asyncio.Lock 10,000 times, holding it across one loop turn.
One JSON line, same fields as loop_asyncio.py. Usage: lock_asyncio.py [--uvloop]"""
import argparse, asyncio, json, time

async def main(impl, tasks=100, rounds=10_000):
    lock = asyncio.Lock()
    inside = 0
    async def worker():
        nonlocal inside
        for _ in range(rounds):
            async with lock:
                inside += 1
                await asyncio.sleep(0)
    t0 = time.perf_counter()
    await asyncio.gather(*(worker() for _ in range(tasks)))
    seconds = time.perf_counter() - t0
    assert inside == tasks * rounds
    n = tasks * rounds
    print(json.dumps({"impl": impl, "case": "lock_contention", "n": n, "seconds": seconds,
                      "per_second": n / seconds, "tasks": tasks, "rounds": rounds}), flush=True)

if __name__ == "__main__":
    ap = argparse.ArgumentParser()
    ap.add_argument("--uvloop", action="store_true")
    a = ap.parse_args()
    impl = "python-asyncio"
    if a.uvloop:
        import uvloop
        uvloop.install()
        impl = "python-uvloop"
    asyncio.run(main(impl))
