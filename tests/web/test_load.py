"""A bounded load test on 127.0.0.1: 200 requests, 8 at a time, zero errors, every answer right."""

import random
from concurrent.futures import ThreadPoolExecutor

REQUESTS, CONCURRENCY = 200, 8


def test_200_requests_8_concurrent_without_an_error(live_server):
    import requests

    rng = random.Random(0)
    jobs = []
    for i in range(REQUESTS):
        q = {"model": rng.choice(["shapes", "shapes", "shapes_mobile"]),
             "image": f"sample:shapes:{rng.randrange(6)}",
             "attack": rng.choice(["fgsm", "fgsm", "fgsm", "pgd", "deepfool"]),
             "eps": f"{rng.randrange(0, 129) / 2:g}/255"}
        if i % 3 == 0:
            q["cam"] = "cam"
        if i % 4 == 0:
            q["transfer"] = "shapes" if q["model"] == "shapes_mobile" else "shapes_mobile"
        jobs.append(q)
    session = requests.Session()
    session.mount("http://", requests.adapters.HTTPAdapter(pool_maxsize=CONCURRENCY))

    def call(q):
        r = session.get(live_server.url + "/api/attack", params=q, timeout=60)
        return q, r.status_code, r.json()

    with ThreadPoolExecutor(CONCURRENCY) as pool:
        answers = list(pool.map(call, jobs))
    errors = [(q, code, body.get("error")) for q, code, body in answers if code != 200]
    assert not errors, f"{len(errors)} of {REQUESTS} requests failed, first: {errors[:3]}"
    for q, _, body in answers:  # each answer is the one asked for
        assert body["model"] == q["model"] and body["attack"] == q["attack"]
        assert abs(body["eps_255"] - float(q["eps"].split("/")[0])) < 1e-6
        assert (body["cam"] is not None) == ("cam" in q) and (body["transfer"] is not None) == ("transfer" in q)
