"""gunicorn's settings for this app, read from the directory gunicorn is started in (the
repository root, as the README's commands and the benchmarks start it)."""


def post_worker_init(worker):
    # The app is loaded: its objects need no more walks by the garbage collector.
    from webapp import collector

    collector.tune()
