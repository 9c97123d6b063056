using System.Text.Json;
using Google.Protobuf.WellKnownTypes;
using Istio.Mixer.V1;
using Mixer.Sdk;
using Condition = Istio.Mixer.V1.ReferencedAttributes.Types.Condition;
using Match = Istio.Mixer.V1.ReferencedAttributes.Types.AttributeMatch;
using Status = Google.Rpc.Status;

namespace Mixer.Cli.Tests;

/// <summary>
/// How mixc reads answers the empty config never gives (denials, short grants, references), and
/// what it puts on the wire, against <see cref="ScriptedMixer"/>.
/// </summary>
public sealed class AnswerHandlingTests : IAsyncLifetime
{
    private ScriptedMixer _mixer = null!;

    public async Task InitializeAsync() => _mixer = await ScriptedMixer.StartAsync();

    public async Task DisposeAsync() => await _mixer.DisposeAsync();

    private static CheckResponse Answer(int code = 0, string message = "", params (string Name, long Granted)[] quotas)
    {
        var response = new CheckResponse
        {
            Precondition = new CheckResponse.Types.PreconditionResult
            {
                Status = new Status { Code = code, Message = message },
                ValidDuration = new Duration { Seconds = 5 },
                ValidUseCount = 1000,
                ReferencedAttributes = new ReferencedAttributes
                {
                    Words = { "x-user" },
                    AttributeMatches =
                    {
                        new Match { Name = 4, Condition = Condition.Exact },                 // source.namespace
                        new Match { Name = 15, MapKey = -1, Condition = Condition.Absence }, // request.headers["x-user"]
                        new Match { Name = 201, Condition = Condition.Absence },             // context.reporter.kind
                    },
                },
            },
        };
        foreach (var (name, granted) in quotas)
        {
            response.Quotas[name] = new CheckResponse.Types.QuotaResult { GrantedAmount = granted, ValidDuration = new Duration { Nanos = 500_000_000 } };
        }

        return response;
    }

    [Fact]
    public async Task Check_Denied_ExitsThreeWithTheStatusAndReferences()
    {
        _mixer.Script.CheckResponse = Answer(7, "denyall.denier.istio-system:Not allowed");

        var (code, output, _) = await MixcRunner.RunAsync("check", "-m", _mixer.Address, "-s", "source.namespace=default", "--stringmap_attributes", "request.headers=accept:*/*");

        code.ShouldBe(3);
        MixcRunner.Lines(output).ShouldBe([
            "Check RPC completed successfully. Check status was PERMISSION_DENIED (denyall.denier.istio-system:Not allowed)",
            "  Valid use count: 1000, valid duration: 5s",
            "  Referenced Attributes",
            "    context.reporter.kind ABSENCE",
            "    request.headers::x-user ABSENCE",
            "    source.namespace EXACT",
        ]);
    }

    [Fact]
    public async Task Check_QuotaGrantedShort_ExitsFour()
    {
        _mixer.Script.CheckResponse = Answer(quotas: ("requestcount", 2));

        var (code, output, _) = await MixcRunner.RunAsync("check", "-m", _mixer.Address, "-s", "a=b", "-q", "requestcount=3");

        code.ShouldBe(4);
        output.ShouldContain("  requestcount  2               500ms");
    }

    [Fact]
    public async Task Check_Json_CarriesDecodedReferencesAndQuotaDurations()
    {
        _mixer.Script.CheckResponse = Answer(quotas: ("requestcount", 3));

        var (code, output, _) = await MixcRunner.RunAsync("check", "-m", _mixer.Address, "-s", "a=b", "-q", "requestcount=3", "-o", "json",
            "--stringmap_attributes", "request.headers=accept:*/*");

        code.ShouldBe(0);
        using var doc = JsonDocument.Parse(output);
        var references = doc.RootElement.GetProperty("referencedAttributes").EnumerateArray().Select(r => r.GetRawText()).ToArray();
        references.ShouldBe([
            """{"name":"source.namespace","condition":"EXACT"}""",
            """{"name":"request.headers","mapKey":"x-user","condition":"ABSENCE"}""",
            """{"name":"context.reporter.kind","condition":"ABSENCE"}""",
        ]);
        doc.RootElement.GetProperty("validDuration").GetString().ShouldBe("5s");
        doc.RootElement.GetProperty("quotas").GetProperty("requestcount").GetProperty("validDuration").GetString().ShouldBe("0.500s");
    }

    [Fact]
    public async Task Check_UnreadableReferences_ExitsOne()
    {
        var answer = Answer();
        answer.Precondition.ReferencedAttributes.AttributeMatches.Add(new Match { Name = -9, Condition = Condition.Exact });
        _mixer.Script.CheckResponse = answer;

        var (code, output, _) = await MixcRunner.RunAsync("check", "-m", _mixer.Address, "-s", "a=b");

        code.ShouldBe(1);
        output.ShouldContain("attribute_matches[3].name: word index -9 is not defined");
    }

    [Fact]
    public async Task Check_SendsEveryFlagAsItsType_QuotasBestEffort_DistinctDeduplicationIds()
    {
        _mixer.Script.CheckResponse = Answer(quotas: ("requestcount", 3));

        var (code, _, error) = await MixcRunner.RunAsync(
            "check", "-m", _mixer.Address, "-r", "2",
            "-s", "request.method=GET,my.own=x", "-i", "request.size=-12", "-d", "my.ratio=0.5", "-b", "connection.mtls=t",
            "-t", "request.time=2018-07-31T12:00:00.123456789Z", "--duration_attributes", "response.duration=1.5ms",
            "--bytes_attributes", "source.ip=0a:00:00:01", "--stringmap_attributes", "request.headers=user-agent:curl;x-user:jane:doe",
            "-a", "auto.int=42,auto.double=1.5,auto.bool=false,auto.time=2018-07-31T12:00:00Z,auto.duration=10s,auto.bytes=de:ad,auto.map=k:v,auto.string=hello",
            "-q", "requestcount=3");

        code.ShouldBe(0, error);
        var requests = _mixer.Script.Checks.ToArray();
        requests.Length.ShouldBe(2);
        requests[0].DeduplicationId.ShouldNotBe(requests[1].DeduplicationId);
        requests[0].GlobalWordCount.ShouldBe(203u);
        requests[0].Quotas["requestcount"].Amount.ShouldBe(3);
        requests[0].Quotas["requestcount"].BestEffort.ShouldBeTrue();

        ProtoBag.TryCreate(requests[0].Attributes, requests[0].GlobalWordCount, null, null, out var bag, out var problem).ShouldBeTrue(problem);
        string Show(string name) => bag.TryGet(name, out var v) ? $"{v} ({v.Type.ToIstioName()})" : "absent";
        Show("request.method").ShouldBe("GET (STRING)");
        Show("my.own").ShouldBe("x (STRING)");
        Show("request.size").ShouldBe("-12 (INT64)");
        Show("my.ratio").ShouldBe("0.5 (DOUBLE)");
        Show("connection.mtls").ShouldBe("true (BOOL)");
        Show("request.time").ShouldBe("2018-07-31T12:00:00.123456789Z (TIMESTAMP)");
        Show("response.duration").ShouldBe("1.5ms (DURATION)");
        Show("source.ip").ShouldBe("0a000001 (BYTES)");
        Show("request.headers").ShouldBe("user-agent:curl;x-user:jane:doe (STRING_MAP)");
        Show("auto.int").ShouldBe("42 (INT64)");
        Show("auto.double").ShouldBe("1.5 (DOUBLE)");
        Show("auto.bool").ShouldBe("false (BOOL)");
        Show("auto.time").ShouldBe("2018-07-31T12:00:00Z (TIMESTAMP)");
        Show("auto.duration").ShouldBe("10s (DURATION)");
        Show("auto.bytes").ShouldBe("dead (BYTES)");
        Show("auto.map").ShouldBe("k:v (STRING_MAP)");
        Show("auto.string").ShouldBe("hello (STRING)");
    }

    [Fact]
    public async Task Flags_LaterKindReplacesEarlier_AutoSensedLast()
    {
        var (code, _, _) = await MixcRunner.RunAsync("check", "-m", _mixer.Address, "-a", "x=7", "-s", "x=seven", "-i", "y=1", "-i", "y=2");

        code.ShouldBe(0);
        _mixer.Script.Checks.TryDequeue(out var request).ShouldBeTrue();
        ProtoBag.TryCreate(request.Attributes, request.GlobalWordCount, null, null, out var bag, out _).ShouldBeTrue();
        bag.TryGet("x", out var x).ShouldBeTrue();
        x.AsInt64.ShouldBe(7);
        bag.TryGet("y", out var y).ShouldBeTrue();
        y.AsInt64.ShouldBe(2);
    }

    [Fact]
    public async Task Report_BatchOfRepeatedSets_IsDeltaEncoded()
    {
        var (code, _, _) = await MixcRunner.RunAsync("report", "-m", _mixer.Address, "-s", "source.namespace=default,my.word=v", "-r", "3", "--report_batch_size", "3");

        code.ShouldBe(0);
        _mixer.Script.Reports.TryDequeue(out var request).ShouldBeTrue();
        request.Attributes.Count.ShouldBe(3);
        request.Attributes[0].Strings.Count.ShouldBe(2);
        request.Attributes[1].Strings.ShouldBeEmpty();
        request.DefaultWords.ShouldBe(["default", "my.word", "v"]);
    }
}
