"""Cost attribution: what each materialisation consumed (CPU, memory, storage bytes, wall time) and what
it cost on its node pool."""
