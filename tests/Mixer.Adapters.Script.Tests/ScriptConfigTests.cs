namespace Mixer.Adapters.Script.Tests;

/// <summary>Bad scripts and params are config errors: the field (the template's script) and the C# diagnostic with its script line.</summary>
public sealed class ScriptConfigTests
{
    private readonly ScriptAdapter _adapter = new();

    [Fact]
    public void UnknownName_IsReportedWithFieldLineAndColumn()
    {
        var problems = _adapter.Validate(Scripts.Params(("listentry", "var v = instance.Value;\nreturn v == blocked ? Deny(\"no\") : Ok();")));

        var p = problems.ShouldHaveSingleItem();
        p.Field.ShouldBe("listentry");
        p.Reason.ShouldBe("script line 2, column 13: CS0103: The name 'blocked' does not exist in the current context");
        p.TextLine.ShouldBe(2);
    }

    [Fact]
    public void SyntaxError_IsReportedAtItsLine()
    {
        var problems = Scripts.Problems(_adapter, ("checknothing", "var x = 1\nreturn Ok();"));

        problems.ShouldContain("checknothing: script line 1, column 10: CS1002: ; expected");
    }

    [Fact]
    public void MissingReturn_SaysEveryPathMustReturn()
    {
        Scripts.Problems(_adapter, ("checknothing", "if (instance.Name == \"x\") return Ok();"))
            .ShouldBe(["checknothing: not every path of the script returns a CheckResult (end it with, e.g., return Ok();)"]);
    }

    [Fact]
    public void WrongResultType_InAnExpressionScript_IsATypeError()
    {
        Scripts.Problems(_adapter, ("listentry", "instance.Value == \"x\""))
            .ShouldHaveSingleItem().ShouldStartWith("listentry: script line 1, column 1: CS0029: Cannot implicitly convert type 'bool' to 'Mixer.Sdk.Adapters.CheckResult'");
    }

    [Fact]
    public void ProblemsOfSeveralScripts_AreAllReported()
    {
        var problems = Scripts.Problems(_adapter, ("listentry", "nope"), ("metric", "Count(\"undeclared_total\");"));

        problems.Count.ShouldBe(2);
        problems[0].ShouldStartWith("listentry: script line 1, column 1: CS0103");
        problems[1].ShouldBe("metric: script line 1: Count(\"undeclared_total\") names no counter of the params' counters (none is declared)");
    }

    [Theory]
    [InlineData("System.IO.File.ReadAllText(\"/etc/passwd\");", "System.IO.File is not available to scripts")]
    [InlineData("var d = new System.IO.DirectoryInfo(\"/\");", "System.IO.DirectoryInfo is not available to scripts")]
    [InlineData("Environment.Exit(1);", "System.Environment is not available to scripts: it can read the environment and end the process")]
    [InlineData("Console.WriteLine(instance.Name);", "CS0103: The name 'Console' does not exist")]
    [InlineData("var t = instance.GetType();", "System.Object.GetType is not available to scripts: it is the door to reflection")]
    [InlineData("var m = typeof(string).GetMethods();", "System.Type is not available to scripts: it is the door to reflection")]
    [InlineData("System.Reflection.Assembly.Load(\"x\");", "System.Reflection.Assembly is not available to scripts")]
    [InlineData("new System.Threading.Thread(() => { }).Start();", "System.Threading.Thread is not available to scripts")]
    [InlineData("System.Threading.Tasks.Task.Run(() => { });", "System.Threading.Tasks.Task is not available to scripts")]
    [InlineData("System.Threading.Thread.Sleep(1000);", "System.Threading.Thread is not available to scripts")]
    [InlineData("GC.Collect();", "System.GC is not available to scripts")]
    [InlineData("AppContext.SetSwitch(\"x\", true);", "System.AppContext is not available to scripts")]
    [InlineData("var r = System.Runtime.InteropServices.Marshal.AllocHGlobal(10);", "System.Runtime.InteropServices.Marshal is not available to scripts")]
    [InlineData("Span<byte> b = stackalloc byte[1000000];", "stackalloc is not allowed in scripts")]
    [InlineData("unsafe { }", "CS0227: Unsafe code may only appear if compiling with /unsafe")]
    [InlineData("lock (instance) { }", "lock is not allowed in scripts")]
    [InlineData("var q = from c in instance.Name select c;", "query syntax (from … select) is not allowed in scripts")]
    [InlineData("var q = new[] { 1 }.AsQueryable();", "CS1061: 'int[]' does not contain a definition for 'AsQueryable'")]
    [InlineData("var n = new[] { 1 }.AsParallel().Count();", "CS1061: 'int[]' does not contain a definition for 'AsParallel'")]
    [InlineData("var ok = System.Text.RegularExpressions.Regex.IsMatch(instance.Name, \"(a+)+$\");", "Regex's constructors and static methods are not available to scripts")]
    [InlineData("var n = Enumerable.Range(0, instance.Name.Length).Sum();", "Enumerable.Range needs a constant count of at most 100,000")]
    [InlineData("var n = Enumerable.Repeat(1, int.MaxValue).Sum();", "Enumerable.Repeat needs a constant count")]
    [InlineData("System.Diagnostics.Process.Start(\"sh\");", "CS0234: The type or namespace name 'Process' does not exist in the namespace 'System.Diagnostics'")]
    [InlineData("var c = new System.Net.Http.HttpClient();", "CS0234: The type or namespace name 'Http' does not exist in the namespace 'System.Net'")]
    [InlineData("Action a = () => { }; var m = a.Method;", "is not available to scripts")]
    [InlineData("CultureInfo.CurrentCulture = new CultureInfo(\"tr-TR\");", "System.Globalization.CultureInfo.CurrentCulture is not available to scripts: it is mixs's thread state")]
    [InlineData("var b = Mixer.Adapters.Script.ScriptBudget.Live;", "Mixer.Adapters.Script.ScriptBudget is not available to scripts")]
    [InlineData("var e = new Exception(); var s = e.TargetSite;", "System.Reflection.MethodBase is not available to scripts")]
    public void ForbiddenApi_IsAConfigErrorSayingWhatAndWhere(string statement, string expected)
    {
        var problems = Scripts.Problems(_adapter, ("checknothing", "var before = 1;\n" + statement + "\nreturn Ok();"));

        problems.ShouldNotBeEmpty();
        problems.ShouldContain(p => p.Contains(expected, StringComparison.Ordinal) && p.StartsWith("checknothing: script line 2,", StringComparison.Ordinal), string.Join("\n", problems));
    }

    [Theory]
    [InlineData("return Ok(); } } class Evil { ~Evil() { while (true) { } } } class X { void M() {")]
    [InlineData("return Ok(); } static Script() { } void N() {")]
    [InlineData("#if DEBUG\nreturn Ok();\n#endif")]
    [InlineData("#line hidden\nreturn Ok();")]
    public void ScriptThatBreaksOutOfItsMethod_IsRejected(string source)
    {
        var problems = Scripts.Problems(_adapter, ("checknothing", source));

        problems.ShouldNotBeEmpty();
        problems.ShouldContain(p => p.StartsWith("checknothing: ", StringComparison.Ordinal));
    }

    [Fact]
    public void ConstantRegexThatDoesNotParse_IsAConfigError()
    {
        Scripts.Problems(_adapter, ("listentry", "IsMatch(instance.Value, \"(unclosed\") ? Ok() : Deny(\"x\")"))
            .ShouldHaveSingleItem().ShouldStartWith("listentry: script line 1, column 25: not a regular expression:");
    }

    [Fact]
    public void CounterNameThatIsNotAConstant_IsAConfigError()
    {
        Scripts.Problems(_adapter, ("counters", new object[] { new { name = "a_total" } }), ("reportnothing", "Count(instance.Name);"))
            .ShouldBe(["reportnothing: script line 1, column 7: the counter name given to Count must be a string constant naming a counter of the params' counters"]);
    }

    [Fact]
    public void BadParams_AreEachReported()
    {
        var problems = Scripts.Problems(
            _adapter,
            ("timeout", "0s"),
            ("validUseCount", -1),
            ("counters", new object[] { new { name = "1bad" }, new { name = "ok_total" }, new { name = "ok_total" }, new { name = "mixer_script_errors_total" } }),
            ("checknothing", "Ok()"));

        problems.ShouldBe([
            "timeout: must be more than 0 and at most 10s (default 100ms), not 0s",
            "validUseCount: must be >= 0",
            "counters[0].name: '1bad' is not a Prometheus metric name (letters, digits, '_' and ':', not starting with a digit; e.g. mixer_script_denied_total)",
            "counters[2].name: 'ok_total' is declared twice",
            "counters[3].name: 'mixer_script_errors_total' is a series the script handler exports itself; pick another name",
        ]);
    }

    [Fact]
    public void NoScript_AndUnknownField_AreReported()
    {
        Scripts.Problems(_adapter, ("timeout", "1s")).ShouldHaveSingleItem().ShouldStartWith(": no script: give C# for at least one template");
        Scripts.Problems(_adapter, ("quota", "Ok()")).ShouldBe(["quota: unknown field"]);
    }
}
