import timing, time, resource
import bench_mlp
c = bench_mlp.make_case((784,512,512,10),128)
for name in ('scratchnet','torch'):
    f=c[name]
    for _ in range(20): f()
    r0=resource.getrusage(resource.RUSAGE_SELF).ru_minflt; t=time.perf_counter()
    for _ in range(200): f()
    print(name, (time.perf_counter()-t)/200*1e3, 'ms', (resource.getrusage(resource.RUSAGE_SELF).ru_minflt-r0)/200, 'faults/step')
