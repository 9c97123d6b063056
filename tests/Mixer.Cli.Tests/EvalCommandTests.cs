using System.Text.Json;
using Mixer.Cli;

namespace Mixer.Cli.Tests;

/// <summary>mixc eval against the default Istio 1.0 vocabulary (mixer/config/attributes.yaml).</summary>
public sealed class EvalCommandTests
{
    private static readonly string Manifest = FindManifest();

    // Found from this source file, so the tests run from any output directory.
    private static string FindManifest([System.Runtime.CompilerServices.CallerFilePath] string source = "")
    {
        var dir = new DirectoryInfo(Path.GetDirectoryName(source)!);
        while (dir is not null && !File.Exists(Path.Combine(dir.FullName, "mixer", "config", "attributes.yaml")))
        {
            dir = dir.Parent;
        }

        return Path.Combine(dir?.FullName ?? throw new InvalidOperationException("repository root not found"), "mixer", "config", "attributes.yaml");
    }

    private static (int Code, string Out, string Err) Eval(string expr, params string[] attrs)
    {
        var stdout = new StringWriter();
        var stderr = new StringWriter();
        var code = EvalCommand.Run(Manifest, expr, attrs, jsonl: false, TextReader.Null, stdout, stderr);
        return (code, stdout.ToString().TrimEnd(), stderr.ToString());
    }

    [Fact]
    public void Eval_Expression_PrintsValueAndType()
    {
        var (code, output, _) = Eval("request.headers[\"x-user\"] == \"admin\" && source.namespace == \"prod\"", "request.headers=x-user:admin;accept:*/*", "source.namespace=prod");
        code.ShouldBe(0);
        output.ShouldBe("true (BOOL)");
    }

    [Fact]
    public void Eval_DefaultOperatorWithDurationLiteral_IsADuration()
    {
        Eval("response.duration | \"0ms\"").Out.ShouldBe("0s (DURATION)");
        Eval("response.duration | \"0ms\"", "response.duration=1.5s").Out.ShouldBe("1.5s (DURATION)");
    }

    [Fact]
    public void Eval_TypedAttributes_AreReadAsTheManifestSays()
    {
        Eval("source.ip == ip(\"10.0.0.1\")", "source.ip=10.0.0.1").Out.ShouldBe("true (BOOL)");
        Eval("request.size + 1", "request.size=41").Out.ShouldBe("42 (INT64)");
        Eval("request.time", "request.time=2018-07-31T12:00:00.5Z").Out.ShouldBe("2018-07-31T12:00:00.5Z (TIMESTAMP)");
    }

    [Fact]
    public void Eval_MissingAttribute_ExitsOneWithIstiosMessage()
    {
        var (code, _, err) = Eval("source.namespace == \"prod\"");
        code.ShouldBe(1);
        err.ShouldContain("lookup failed: 'source.namespace'");
    }

    [Fact]
    public void Eval_Typo_ExitsTwoPointingAtItWithASuggestion()
    {
        var (code, _, err) = Eval("source.namepsace == \"prod\"");
        code.ShouldBe(2);
        err.ShouldContain("1:1: unknown attribute 'source.namepsace'; did you mean 'source.namespace'?");
        err.ShouldContain("  ^");
    }

    [Fact]
    public void Eval_BadAttributeFlag_SaysWhatIsExpected()
    {
        var (code, _, err) = Eval("request.size", "request.size=big");
        code.ShouldBe(2);
        err.ShouldContain("'big' is not a INT64 value");
        Eval("request.size", "nosuch.attr=1").Err.ShouldContain("no manifest declares attribute 'nosuch.attr'");
    }

    [Fact]
    public void EvalJsonl_EveryLine_GetsOneAnswerInOrder_AndABadLineDoesNotStopTheStream()
    {
        var input = string.Join('\n',
            """{"expr": "request.headers[\"x-user\"] | \"anon\"", "attrs": {"request.headers": {"stringMap": {"x-user": "jane"}}}}""",
            """this is not json""",
            """{"expr": "source.namespace == ", "attrs": {}}""",
            """{"expr": "source.namespace", "attrs": {}}""",
            """{"expr": "request.size | 200", "attrs": {"request.size": {"int64": 7}}}""",
            """{"expr": "source.ip", "attrs": {"source.ip": {"ip": "10.1.2.3"}}}""",
            """{"expr": "response.duration | \"0\"", "attrs": {}}""",
            """{"expr": "request.time", "attrs": {"request.time": {"timestamp": "2018-07-31T12:00:00Z"}}}""",
            """{"expr": "dnsName(\"Example.com\")", "attrs": {}}""",
            """{"expr": "request.headers", "attrs": {"request.headers": {"stringMap": {"b": "2", "a": "1"}}}}""",
            """{"expr": "request.size", "attrs": {"request.size": {"int64": "seven"}}}""",
            """{"expr": "source.namespace == \"prod\"", "attrs": {"source.namespace": {"string": "prod"}}}""");
        var output = new StringWriter();
        var code = EvalCommand.Run(Manifest, null, [], jsonl: true, new StringReader(input), output, new StringWriter());
        code.ShouldBe(0);
        var lines = output.ToString().TrimEnd().Split('\n');
        lines.ShouldBe(
        [
            """{"value":{"string":"jane"},"type":"STRING"}""",
            lines[1],
            lines[2],
            """{"error":"lookup failed: 'source.namespace'"}""",
            """{"value":{"int64":7},"type":"INT64"}""",
            """{"value":{"ip":"10.1.2.3"},"type":"IP_ADDRESS"}""",
            """{"value":{"duration":"0s"},"type":"DURATION"}""",
            """{"value":{"timestamp":"2018-07-31T12:00:00Z"},"type":"TIMESTAMP"}""",
            """{"value":{"dns":"Example.com"},"type":"DNS_NAME"}""",
            """{"value":{"stringMap":{"a":"1","b":"2"}},"type":"STRING_MAP"}""",
            lines[10],
            """{"value":{"bool":true},"type":"BOOL"}""",
        ]);
        JsonDocument.Parse(lines[1]).RootElement.GetProperty("error").GetString()!.ShouldStartWith("input line is not JSON");
        JsonDocument.Parse(lines[2]).RootElement.GetProperty("compileError").GetString()!.ShouldContain("expected operand");
        JsonDocument.Parse(lines[10]).RootElement.GetProperty("error").GetString()!.ShouldContain("attribute 'request.size'");
    }

    [Fact]
    public void EvalJsonl_WhatIstio10Rejects_AnswersCompileErrors_AndIPv4MappedPrintsDotted()
    {
        var input = string.Join('\n',
            """{"expr": "response.duration == \"10ms\"", "attrs": {"response.duration": {"duration": "10ms"}}}""",
            """{"expr": "request.size | -1", "attrs": {}}""",
            """{"expr": "source.ip", "attrs": {"source.ip": {"ip": "::ffff:10.1.2.3"}}}""",
            """{"expr": "ip(\"::ffff:10.1.2.3\") == source.ip", "attrs": {"source.ip": {"ip": "10.1.2.3"}}}""",
            """{"expr": "(request.size == 7) | false", "attrs": {"request.size": {"int64": 7}}}""");
        var output = new StringWriter();
        EvalCommand.Run(Manifest, null, [], jsonl: true, new StringReader(input), output, new StringWriter()).ShouldBe(0);
        var lines = output.ToString().TrimEnd().Split('\n');
        lines.Length.ShouldBe(5);
        JsonDocument.Parse(lines[0]).RootElement.GetProperty("compileError").GetString()!.ShouldContain("not defined for DURATION");
        JsonDocument.Parse(lines[1]).RootElement.GetProperty("compileError").GetString()!.ShouldContain("unknown function: SUB");
        lines[2].ShouldBe("""{"value":{"ip":"10.1.2.3"},"type":"IP_ADDRESS"}""");
        lines[3].ShouldBe("""{"value":{"bool":true},"type":"BOOL"}""");
        lines[4].ShouldBe("""{"value":{"bool":false},"type":"BOOL"}""");
    }

    [Fact]
    public void DefaultManifest_DeclaresIstio10Vocabulary()
    {
        var errors = new List<string>();
        var manifest = EvalManifestReader.Read(Manifest, errors);
        errors.ShouldBeEmpty();
        manifest!.Count.ShouldBe(79);
        manifest.TryGetType("request.headers", out var t).ShouldBeTrue();
        t.ShouldBe(Mixer.Sdk.ValueType.StringMap);
    }

    [Fact]
    public void ManifestReader_BadValueType_NamesLineAndValidTypes()
    {
        var errors = new List<string>();
        EvalManifestReader.Parse("kind: attributemanifest\nspec:\n  attributes:\n    a.b:\n      valueType: STRNG\n", "m.yaml", errors).ShouldBeNull();
        errors.ShouldHaveSingleItem().ShouldStartWith("m.yaml:4: attribute 'a.b': valueType must be one of STRING");
    }
}
