using System.Diagnostics;
using Mixer.Adapters.Tests;
using Mixer.Sdk.Adapters;
using Mixer.Sdk.Templates;

namespace Mixer.Adapters.Script.Tests;

/// <summary>Runaway scripts end: every way to spin, jump back, recurse or swallow the stop still returns a status, and mixs lives on.</summary>
public sealed class ScriptBudgetTests
{
    // Far above the 50ms budget: "promptly" means the call did not run away, not a speed target.
    private static readonly TimeSpan Promptly = TimeSpan.FromSeconds(20);

    private readonly ScriptAdapter _adapter = new();

    [Theory]
    [InlineData("while (true) { }")]
    [InlineData("for (;;) ;")]
    [InlineData("do { } while (instance.Name != null);")]
    [InlineData("var i = 0; again: i++; goto again;")]
    [InlineData("foreach (var x in Forever()) { }\nIEnumerable<int> Forever() { while (true) yield return 1; }")]
    [InlineData("var n = new[] { 1, 2 }.Select(x => { while (x > 0) { } return x; }).Sum();")]
    [InlineData("while (true) { try { while (true) { } } catch (Exception) { } }")]
    [InlineData("while (true) { try { while (true) { } } catch { } finally { } }")]
    [InlineData("while (true) { try { while (true) { } } catch (Exception) when (true) { continue; } }")]
    public async Task InfiniteLoop_ReturnsDeadlineExceededNamingTheHandler(string spin)
    {
        var metrics = new RecordingMetrics();
        var h = await Scripts.HandlerAsync(_adapter, [("checknothing", spin + "\nreturn Ok();"), ("timeout", "50ms")], metrics);

        var watch = Stopwatch.StartNew();
        var r = await h.HandleCheckNothingAsync(new CheckNothingInstance { Name = "c" }, default);

        watch.Elapsed.ShouldBeLessThan(Promptly);
        r.StatusCode.ShouldBe(ScriptHandler.DeadlineExceeded);
        r.Message.ShouldBe("script handler policy.script.istio-system: the checknothing script did not finish within its 50ms budget");
        metrics["mixer_script_timeouts_total"].ShouldBe(1);

        // The budget is per call: the next call gets a fresh one (and runs away again, and is stopped again).
        (await h.HandleCheckNothingAsync(new CheckNothingInstance { Name = "c" }, default)).StatusCode.ShouldBe(ScriptHandler.DeadlineExceeded);
    }

    [Theory]
    [InlineData("int Down(int n) => Down(n + 1) + 1;\nreturn Down(0) > 0 ? Ok() : Deny(\"x\");")]
    [InlineData("Spin(); void Spin() { try { Spin(); } catch { Spin(); } }\nreturn Ok();")]
    [InlineData("Spin(); void Spin() { try { Spin(); } finally { Spin(); } }\nreturn Ok();")]
    [InlineData("Func<int, int> f = null;\nf = n => f(n + 1);\nreturn f(0) > 0 ? Ok() : Ok();")]
    public async Task UnboundedRecursion_EndsAsAStatus_NotAStackOverflow(string script)
    {
        var metrics = new RecordingMetrics();
        var h = await Scripts.HandlerAsync(_adapter, [("checknothing", script), ("timeout", "5s")], metrics);

        var r = await h.HandleCheckNothingAsync(new CheckNothingInstance { Name = "c" }, default);

        r.StatusCode.ShouldBe(StatusCodes.Internal);
        r.Message.ShouldBe("script handler policy.script.istio-system: the checknothing script failed: recursion too deep (more than 256 KiB of stack)");
        metrics["mixer_script_errors_total"].ShouldBe(1);
    }

    [Theory]
    [InlineData("var kept = new List<string>();\nwhile (true) kept.Add(new string('x', 1000));")]
    [InlineData("var kept = new List<int[]>();\nFill(); void Fill() { kept.Add(new int[1000]); Fill(); }")]
    public async Task ScriptThatFillsMemory_IsStoppedBeforeItsTimeRunsOut(string script)
    {
        var metrics = new RecordingMetrics();
        var h = await Scripts.HandlerAsync(_adapter, [("checknothing", script + "\nreturn Ok();"), ("timeout", "10s")], metrics);

        var r = await h.HandleCheckNothingAsync(new CheckNothingInstance { Name = "c" }, default);

        r.StatusCode.ShouldBe(StatusCodes.Internal);
        r.Message.ShouldBeOneOf(
            "script handler policy.script.istio-system: the checknothing script failed: it allocated more than 64 MiB",
            "script handler policy.script.istio-system: the checknothing script failed: recursion too deep (more than 256 KiB of stack)");
        metrics["mixer_script_errors_total"].ShouldBe(1);
    }

    [Fact]
    public async Task CallersCancellation_StopsTheScript()
    {
        var h = await Scripts.HandlerAsync(_adapter, [("checknothing", "while (true) { }"), ("timeout", "10s")]);
        using var cts = new CancellationTokenSource(TimeSpan.FromMilliseconds(50));

        var r = await h.HandleCheckNothingAsync(new CheckNothingInstance { Name = "c" }, cts.Token);

        r.StatusCode.ShouldBe(ScriptHandler.DeadlineExceeded);
        r.Message.ShouldEndWith("did not finish before the call's deadline");
    }

    [Fact]
    public async Task CatastrophicRegex_IsStoppedByTheBudget()
    {
        var h = await Scripts.HandlerAsync(_adapter, [("listentry", """IsMatch(instance.Value, "^(a+)+$") ? Ok() : Deny("no")"""), ("timeout", "50ms")]);

        var r = await h.HandleListEntryAsync(new ListEntryInstance { Name = "e", Value = new string('a', 40) + "!" }, default);

        r.StatusCode.ShouldBe(ScriptHandler.DeadlineExceeded);
    }

    [Fact]
    public async Task ReportBatchThatRunsOut_StopsAndCountsWhatItDidNotReach()
    {
        var metrics = new RecordingMetrics();
        var h = await Scripts.HandlerAsync(
            _adapter,
            [("counters", new object[] { new { name = "seen_total" } }), ("reportnothing", "Count(\"seen_total\");\nif (instance.Name == \"slow\") while (true) { }"), ("timeout", "50ms")],
            metrics);

        var e = await Should.ThrowAsync<Exception>(async () => await h.HandleReportNothingAsync(
            [new ReportNothingInstance { Name = "a" }, new ReportNothingInstance { Name = "slow" }, new ReportNothingInstance { Name = "c" }], default));

        e.Message.ShouldStartWith("reportnothing script failed on 2 of 3 instances; first: script handler policy.script.istio-system: the reportnothing script did not finish within its 50ms budget");
        metrics["seen_total"].ShouldBe(2);
        metrics["mixer_script_timeouts_total"].ShouldBe(1);
    }
}
