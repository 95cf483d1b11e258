"""Test helper: run something in this thread while another thread holds a `with` block open."""
import threading


def while_open_in_another_thread(block, body):
    """`body()`, run here while another thread is inside `with block():`; its result. The other
    thread leaves its block after body returns (or raises)."""
    entered, release = threading.Event(), threading.Event()

    def other():
        with block():
            entered.set()
            release.wait(10)

    thread = threading.Thread(target=other)
    thread.start()
    try:
        assert entered.wait(10), "the other thread never entered its block"
        return body()
    finally:
        release.set()
        thread.join()
