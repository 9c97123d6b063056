using System.Runtime.CompilerServices;
using Mixer.Adapters.Tests;
using Mixer.Sdk.Adapters;
using Mixer.Sdk.Templates;

namespace Mixer.Adapters.Script.Tests;

/// <summary>Scripts compile once per distinct text, across Validate, BuildAsync and config generations; what no handler uses is unloaded.</summary>
public sealed class ScriptCacheTests
{
    [Fact]
    public async Task SameSource_IsCompiledOnce_AcrossValidateBuildAndGenerations()
    {
        var adapter = new ScriptAdapter(new ScriptCache());
        (string, object)[] generation1 = [("listentry", "instance.Value == \"x\" ? Deny(\"x\") : Ok()"), ("timeout", "1s")];

        var first = await Scripts.HandlerAsync(adapter, generation1);
        adapter.Cache.Compilations.ShouldBe(1);

        // The next generation: the same script (other params may change) is validated and built again, not recompiled.
        (string, object)[] generation2 = [("listentry", "instance.Value == \"x\" ? Deny(\"x\") : Ok()"), ("timeout", "2s")];
        var second = await Scripts.HandlerAsync(adapter, generation2);
        await first.DisposeAsync();
        adapter.Cache.Compilations.ShouldBe(1);
        (await second.HandleListEntryAsync(new ListEntryInstance { Name = "e", Value = "x" }, default)).StatusCode.ShouldBe(StatusCodes.PermissionDenied);

        // A changed script is compiled; a broken one too, once, however often it is validated.
        await Scripts.HandlerAsync(adapter, [("listentry", "Ok()")]);
        adapter.Cache.Compilations.ShouldBe(2);
        Scripts.Problems(adapter, ("listentry", "broken(")).ShouldNotBeEmpty();
        Scripts.Problems(adapter, ("listentry", "broken(")).ShouldNotBeEmpty();
        adapter.Cache.Compilations.ShouldBe(3);
    }

    [Fact]
    public async Task CompileCount_IsExportedAsAGauge()
    {
        var adapter = new ScriptAdapter(new ScriptCache());
        var metrics = new RecordingMetrics();
        await Scripts.HandlerAsync(adapter, [("checknothing", "Ok()"), ("metric", "Log(instance.Name);")], metrics);

        metrics.Gauge("mixer_script_compilations").ShouldBe(2);
        metrics.Gauge("mixer_script_loaded").ShouldBe(2);
    }

    [Fact]
    public async Task ManyGenerationsOfDifferentScripts_KeepMemoryBounded_UnloadingWhatNoHandlerUses()
    {
        const int Generations = 40;
        const int Idle = 4;
        var adapter = new ScriptAdapter(new ScriptCache(Idle));
        var contexts = new List<WeakReference>();
        ScriptHandler? live = null;
        for (var g = 0; g < Generations; g++)
        {
            // Each generation replaces the handler with one running a different script, as a config edit would.
            var next = await Scripts.HandlerAsync(adapter, [("checknothing", $"instance.Name.Length > {g} ? Ok() : Deny(\"short\")")]);
            contexts.Add(ContextOf(adapter, $"instance.Name.Length > {g} ? Ok() : Deny(\"short\")"));
            if (live is not null)
            {
                await live.DisposeAsync();
            }

            live = next;
        }

        adapter.Cache.Compilations.ShouldBe(Generations);
        adapter.Cache.Count.ShouldBeLessThanOrEqualTo(Idle + 1);
        adapter.Cache.Unloads.ShouldBe(Generations - adapter.Cache.Count);

        for (var i = 0; i < 10 && contexts.Take(Generations - Idle - 1).Any(w => w.IsAlive); i++)
        {
            GC.Collect();
            GC.WaitForPendingFinalizers();
        }

        // Every script but the live one and the few idle ones kept for reuse is gone, load context and all.
        contexts.Take(Generations - Idle - 1).Count(w => w.IsAlive).ShouldBe(0);
        (await live!.HandleCheckNothingAsync(new CheckNothingInstance { Name = "a-long-enough-instance-name-for-the-last-generations" }, default)).IsOk.ShouldBeTrue();
    }

    [MethodImpl(MethodImplOptions.NoInlining)]
    private static WeakReference ContextOf(ScriptAdapter adapter, string source) =>
        adapter.Cache.Get(ScriptTemplate.CheckNothing, source).ContextReference!;
}
