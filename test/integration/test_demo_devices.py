"""DEMO_DEVICES=N (test/demo.py): the demo sized for N devices, by mobility.sizing_for
(conf.d/mpm-mobility.conf's arithmetic), with N generated users in its directory. Every
one of them signs in and holds an event channel at once; none is sent away."""
import mobility
from ucwa_client import Fe, in_thread, new_http, stop_fe, wait_parked

N = 40   # more than the unsized demo's children park (2 x 25 threads, cap 18 each)


def test_n_generated_users_each_hold_an_event_channel(workdir):
    topo = mobility.Topology(offset=mobility.free_offset(start=35000))
    state = mobility.make_state(workdir / "devices-state", topo)
    mobility.add_generated_users(state, N)
    sz = mobility.sizing_for(N)
    apache = mobility.front_end(workdir / "devices-fe", state, topo, extra=sz.extra(),
                                servers=sz.servers, threads=sz.threads)
    apache.topo = topo
    apache.start()
    fe = Fe(apache, state)
    try:
        apps = []
        for i in range(1, N + 1):
            app = fe.user(mobility.GENERATED_USER.format(i)).create()
            app.available()
            apps.append(app)
        polls = [in_thread(app.poll_raw, http=new_http(fe.ca)) for app in apps]
        wait_parked(fe, N, timeout=20)
        per_child = fe.status()["parkedPerChild"]
        assert len(per_child) == sz.servers and sum(per_child) == N, per_child
        for app in apps:   # signing out answers the parked request
            assert app.delete().status_code == 204
        for poll in polls:
            r, _ = poll.result(timeout=30)
            assert r.status_code in (200, 404, 410), r.text
    finally:
        stop_fe(fe)
