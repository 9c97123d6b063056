using Mixer.Testing;

namespace Mixer.IntegrationTests;

/// <summary>Script handlers in a real mixs: Istio 1.0 YAML with C# in the params, enforcing Check; bad scripts rejected with file:line.</summary>
public sealed class ScriptTests : IAsyncLifetime
{
    // The 1.0 per-adapter form (kind: script) with a listentry script, and the generic form
    // (kind: handler, compiledAdapter: script) with a checknothing script that never ends.
    private const string Scripts = """
        apiVersion: config.istio.io/v1alpha2
        kind: script
        metadata:
          name: gate
          namespace: istio-system
        spec:
          counters:
          - name: mixer_script_gate_denied_total
            help: Requests the gate script denied
          listentry: |
            var user = instance.Value;
            if (user.StartsWith("bad", StringComparison.Ordinal))
            {
                Count("mixer_script_gate_denied_total");
                return Deny($"user {user} is blocked by the gate script");
            }

            return Ok();
        ---
        apiVersion: config.istio.io/v1alpha2
        kind: listentry
        metadata:
          name: gateuser
          namespace: istio-system
        spec:
          value: request.headers["user"] | "anonymous"
        ---
        apiVersion: config.istio.io/v1alpha2
        kind: rule
        metadata:
          name: gate
          namespace: istio-system
        spec:
          match: destination.service == "script.svc"
          actions:
          - handler: gate.script
            instances: [gateuser.listentry]
        ---
        apiVersion: config.istio.io/v1alpha2
        kind: handler
        metadata:
          name: spin
          namespace: istio-system
        spec:
          compiledAdapter: script
          params:
            timeout: 50ms
            checknothing: |
              while (true) { }
        ---
        apiVersion: config.istio.io/v1alpha2
        kind: instance
        metadata:
          name: spinrequest
          namespace: istio-system
        spec:
          compiledTemplate: checknothing
          params: {}
        ---
        apiVersion: config.istio.io/v1alpha2
        kind: rule
        metadata:
          name: spin
          namespace: istio-system
        spec:
          match: destination.service == "spin.svc"
          actions:
          - handler: spin
            instances: [spinrequest]
        """;

    private readonly ConfigDir _config = new ConfigDir().WithDefaultAttributes();
    private MixsProcess _mixs = null!;

    public async Task InitializeAsync()
    {
        _config.Write("scripts.yaml", Scripts);
        _mixs = await MixsProcess.StartAsync(_config.Path);
    }

    public async Task DisposeAsync()
    {
        await _mixs.DisposeAsync();
        _config.Dispose();
    }

    private async Task<Google.Rpc.Status> CheckAsync(string service, string? user = null)
    {
        var attributes = new TestAttributes().String("destination.service", service);
        if (user is not null)
        {
            attributes.Map("request.headers", ("user", user));
        }

        return (await _mixs.Client.CheckAsync(attributes.Check())).Precondition.Status;
    }

    private Task<double> MetricAsync(string name, params string[] labels) => ScrapedMetrics.ReadAsync(_mixs.MonitoringUrl, name, labels);

    [Fact]
    public async Task ScriptDeniesACheck_AndCountsIt()
    {
        _mixs.Output.ShouldContain(", 0 errors", customMessage: _mixs.Output);

        var denied = await CheckAsync("script.svc", "bad-guy");
        var allowed = await CheckAsync("script.svc", "alice");

        denied.Code.ShouldBe(7);
        denied.Message.ShouldContain("user bad-guy is blocked by the gate script");
        allowed.Code.ShouldBe(0);
        (await MetricAsync("mixer_script_gate_denied_total", "handler=\"gate.script.istio-system\"")).ShouldBe(1);
    }

    [Fact]
    public async Task RunawayScript_IsDeadlineExceededNamingTheHandler_AndMixsKeepsServing()
    {
        var r = await CheckAsync("spin.svc");

        r.Code.ShouldBe(4);
        r.Message.ShouldContain("script handler spin.handler.istio-system: the checknothing script did not finish within its 50ms budget");
        (await MetricAsync("mixer_script_timeouts_total", "handler=\"spin.handler.istio-system\"")).ShouldBe(1);
        _mixs.IsRunning.ShouldBeTrue();
        (await CheckAsync("script.svc", "alice")).Code.ShouldBe(0);
    }

    [Fact]
    public async Task BrokenScript_IsAConfigErrorAtItsYamlLine_AndTheLastGoodScriptKeepsServing()
    {
        var compiled = await MetricAsync("mixer_script_compilations", "handler=\"gate.script.istio-system\"");
        var broken = Scripts.Replace("if (user.StartsWith(\"bad\", StringComparison.Ordinal))", "if (usr.StartsWith(\"bad\", StringComparison.Ordinal))", StringComparison.Ordinal);
        var yamlLine = Array.FindIndex(broken.Split('\n'), l => l.Contains("usr.StartsWith", StringComparison.Ordinal)) + 1;
        _config.Write("scripts.yaml", broken);

        await _mixs.WaitForOutputAsync(
            $"scripts.yaml:{yamlLine}: script istio-system/gate: listentry: script line 2, column 5: CS0103: The name 'usr' does not exist in the current context",
            "the last good version (from ");
        (await CheckAsync("script.svc", "bad-guy")).Code.ShouldBe(7);

        // The config is re-read without change to the script: nothing is compiled again (the broken
        // text was compiled once, when it was first seen).
        var afterBroken = await MetricAsync("mixer_script_compilations", "handler=\"gate.script.istio-system\"");
        afterBroken.ShouldBe(compiled + 1);
        var generation = await MetricAsync("mixer_config_generation");
        _config.Write("other.yaml", PolicyConfig.Denier);
        await Eventually.UntilAsync(async () => await MetricAsync("mixer_config_generation") > generation, "the next generation is served");
        (await MetricAsync("mixer_script_compilations", "handler=\"gate.script.istio-system\"")).ShouldBe(afterBroken);
    }
}
