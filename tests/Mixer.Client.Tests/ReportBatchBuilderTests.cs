using Google.Protobuf;
using Istio.Mixer.V1;
using Mixer.Client;
using Mixer.Sdk;
using Semantics = Istio.Mixer.V1.ReportRequest.Types.RepeatedAttributesSemantics;

namespace Mixer.Client.Tests;

/// <summary>
/// Delta-encoded report batches: what goes on the wire, and that the server's decoder (the SDK's
/// ReportBatch) gets back exactly the sets that were added.
/// </summary>
public sealed class ReportBatchBuilderTests
{
    private static Attributes Set(long code, string path, bool? cached = null)
    {
        var a = new Attributes().SetInt64("response.code", code).SetString("request.path", path).SetString("my.name", "same");
        if (cached is { } c)
        {
            a.SetBool("check.cache_hit", c);
        }

        return a;
    }

    // Every set the server sees in one request, each as sorted "name=value".
    private static List<string> ServerSees(ReportRequest request)
    {
        ReportBatch.TryCreate(ReportRequest.Parser.ParseFrom(request.ToByteArray()), out var batch, out var error).ShouldBeTrue(error);
        var seen = new List<string>();
        foreach (var bag in batch.Bags())
        {
            seen.Add(string.Join(" ", bag.Names.Order(StringComparer.Ordinal).Select(n => bag.TryGet(n, out var v) ? $"{n}={v}" : n)));
        }

        return seen;
    }

    private static string Expected(Attributes a) => string.Join(" ", a.Attributes_.OrderBy(kv => kv.Key, StringComparer.Ordinal).Select(kv => kv.Key + "=" + kv.Value.ValueCase switch
    {
        Attributes.Types.AttributeValue.ValueOneofCase.Int64Value => kv.Value.Int64Value.ToString(System.Globalization.CultureInfo.InvariantCulture),
        Attributes.Types.AttributeValue.ValueOneofCase.BoolValue => kv.Value.BoolValue ? "true" : "false",
        _ => kv.Value.StringValue,
    }));

    [Fact]
    public void Batch_FirstSetWhole_LaterSetsOnlyWhatChangedOrWasAdded()
    {
        var batch = new AttributeCompressor().CreateReportBatch();
        batch.TryAdd(Set(200, "/a")).ShouldBeTrue();
        batch.TryAdd(Set(503, "/a")).ShouldBeTrue();
        batch.TryAdd(Set(503, "/a", cached: true)).ShouldBeTrue();
        batch.TryAdd(Set(503, "/a", cached: true)).ShouldBeTrue();

        var request = batch.Build();

        request.Attributes.Count.ShouldBe(4);
        request.Attributes[0].Int64S.Count.ShouldBe(1);
        request.Attributes[0].Strings.Count.ShouldBe(2);
        request.Attributes[1].Int64S.Values.ShouldBe([503L]);
        request.Attributes[1].Strings.ShouldBeEmpty();
        request.Attributes[2].Bools.Count.ShouldBe(1);
        request.Attributes[2].Int64S.ShouldBeEmpty();
        request.Attributes[3].CalculateSize().ShouldBe(0);
        request.RepeatedAttributesSemantics.ShouldBe(Semantics.DeltaEncoding);
    }

    [Fact]
    public void Batch_WordsAreSharedInDefaultWords_NotInTheSets()
    {
        var batch = new AttributeCompressor().CreateReportBatch();
        batch.TryAdd(Set(200, "/a"));
        batch.TryAdd(Set(200, "/b"));

        var request = batch.Build();

        request.DefaultWords.ShouldBe(["/a", "my.name", "same", "/b"]);
        request.Attributes.ShouldAllBe(a => a.Words.Count == 0);
        request.GlobalWordCount.ShouldBe(203u);
    }

    [Fact]
    public void Batch_DecodedByTheServer_GivesBackEverySetAsAdded()
    {
        Attributes[] sets = [Set(200, "/a"), Set(503, "/a"), Set(503, "/b", cached: false), Set(200, "/b", cached: true)];
        var batch = new AttributeCompressor().CreateReportBatch();
        foreach (var s in sets)
        {
            batch.TryAdd(s).ShouldBeTrue();
        }

        ServerSees(batch.Build()).ShouldBe(sets.Select(Expected).ToList());
    }

    [Fact]
    public void TryAdd_SetLackingAnEarlierAttribute_IsRefusedAndTheBatchIsUnchanged()
    {
        // Delta encoding cannot remove an attribute; as Istio's proxy, start a new batch instead.
        var batch = new AttributeCompressor().CreateReportBatch();
        batch.TryAdd(Set(200, "/a", cached: true)).ShouldBeTrue();

        batch.TryAdd(Set(503, "/b")).ShouldBeFalse();

        batch.Count.ShouldBe(1);
        ServerSees(batch.Build()).ShouldBe([Expected(Set(200, "/a", cached: true))]);
        batch.TryAdd(Set(503, "/b")).ShouldBeTrue();
        ServerSees(batch.Build()).ShouldBe([Expected(Set(503, "/b"))]);
    }

    [Fact]
    public void TryAdd_ChangedStringMap_IsSentWhole()
    {
        var batch = new AttributeCompressor().CreateReportBatch();
        batch.TryAdd(new Attributes().SetStringMap("request.headers", [new("a", "1"), new("b", "2")]));
        batch.TryAdd(new Attributes().SetStringMap("request.headers", [new("b", "2"), new("a", "1")]));
        batch.TryAdd(new Attributes().SetStringMap("request.headers", [new("a", "1"), new("b", "3")]));

        var request = batch.Build();

        request.Attributes[1].StringMaps.ShouldBeEmpty();        // same entries, other order: unchanged
        request.Attributes[2].StringMaps[15].Entries.Count.ShouldBe(2);
        ServerSees(request).ShouldBe(["request.headers=a:1;b:2", "request.headers=a:1;b:2", "request.headers=a:1;b:3"]);
    }

    [Fact]
    public void TryAdd_ValueChangingType_IsSentInItsNewType()
    {
        var batch = new AttributeCompressor().CreateReportBatch();
        batch.TryAdd(new Attributes().SetInt64("x.code", 200));
        batch.TryAdd(new Attributes().SetString("x.code", "ok"));

        ServerSees(batch.Build()).ShouldBe(["x.code=200", "x.code=ok"]);
    }

    [Fact]
    public void Build_StartsAFreshBatch_WhoseFirstSetIsWholeAgain()
    {
        var batch = new AttributeCompressor().CreateReportBatch();
        batch.TryAdd(Set(200, "/a"));
        batch.Build();

        batch.Count.ShouldBe(0);
        batch.TryAdd(Set(200, "/a"));
        var second = batch.Build();

        second.Attributes[0].Strings.Count.ShouldBe(2);
        second.DefaultWords.ShouldBe(["/a", "my.name", "same"]);
    }

    [Fact]
    public void Batch_KeepsTheWordCountItStartedWith_WhenTheDictionaryShrinks()
    {
        var compressor = new AttributeCompressor();
        var batch = compressor.CreateReportBatch();
        batch.TryAdd(new Attributes().SetString("destination.service", "a"));
        compressor.ShrinkToBase();
        batch.TryAdd(new Attributes().SetString("destination.service", "b"));

        var request = batch.Build();

        request.GlobalWordCount.ShouldBe(203u);
        ServerSees(request).ShouldBe(["destination.service=a", "destination.service=b"]);
        compressor.CreateReportBatch().Build().GlobalWordCount.ShouldBe(111u);
    }

    [Fact]
    public void CreateReportRequests_SplitsWhereAnAttributeGoesAndAtTheSizeLimit()
    {
        Attributes[] sets = [Set(200, "/a", cached: true), Set(200, "/b", cached: true), Set(200, "/c"), Set(201, "/c"), Set(202, "/c"), Set(203, "/c")];

        var requests = new AttributeCompressor().CreateReportRequests(sets, maxSetsPerRequest: 3);

        requests.Select(r => r.Attributes.Count).ShouldBe([2, 3, 1]);
        requests.SelectMany(ServerSees).ShouldBe(sets.Select(Expected).ToList());
    }

    [Fact]
    public void Batch_EveryValueType_DecodesAsTheCheckEncodingOfTheSameSet()
    {
        // The batch is written byte by byte, the Check request through Google.Protobuf: the server must read both alike.
        static Attributes Typed(long n, string path) => new()
        {
            Attributes_ =
            {
                ["request.path"] = new() { StringValue = path },
                ["request.empty"] = new() { StringValue = "" },
                ["response.code"] = new() { Int64Value = n },
                ["my.negative"] = new() { Int64Value = -n },
                ["my.ratio"] = new() { DoubleValue = -n / 3.0 },
                ["my.flag"] = new() { BoolValue = n % 2 == 0 },
                ["source.ip"] = new() { BytesValue = ByteString.CopyFrom(10, 0, 0, (byte)n) },
                ["request.time"] = new() { TimestampValue = new Google.Protobuf.WellKnownTypes.Timestamp { Seconds = 1_700_000_000 + n, Nanos = 123_456_789 } },
                ["response.duration"] = new() { DurationValue = new Google.Protobuf.WellKnownTypes.Duration { Seconds = -n, Nanos = -5 } },
                ["my.zero"] = new() { DurationValue = new Google.Protobuf.WellKnownTypes.Duration() },
                ["request.headers"] = new() { StringMapValue = new Attributes.Types.StringMap { Entries = { [":path"] = path, ["x-n"] = n.ToString(System.Globalization.CultureInfo.InvariantCulture), ["empty"] = "" } } },
            },
        };
        Attributes[] sets = [Typed(200, "/a"), Typed(201, "/b"), Typed(201, "/b")];
        var compressor = new AttributeCompressor();
        var batch = compressor.CreateReportBatch();
        foreach (var set in sets)
        {
            batch.TryAdd(set).ShouldBeTrue();
        }

        var request = ReportRequest.Parser.ParseFrom(batch.Build().ToByteArray());
        ReportBatch.TryCreate(request, out var decoded, out var error).ShouldBeTrue(error);
        var i = 0;
        foreach (var bag in decoded.Bags())
        {
            // Each bag is read before the next set is applied (the decoder may reuse one bag).
            var check = compressor.CreateCheckRequest(sets[i]);
            ProtoBag.TryCreate(check.Attributes, check.GlobalWordCount, null, null, out var expected, out var checkError).ShouldBeTrue(checkError);
            foreach (var name in sets[i].Attributes_.Keys)
            {
                expected.TryGet(name, out var want).ShouldBeTrue(name);
                bag.TryGet(name, out var got).ShouldBeTrue(name);
                got.Equals(want).ShouldBeTrue($"set {i}, {name}: {got} != {want}");
            }

            i++;
        }

        i.ShouldBe(sets.Length);
    }

    [Fact]
    public void Build_Empty_IsAnEmptyRequest()
    {
        var request = new AttributeCompressor().CreateReportBatch().Build();

        request.Attributes.ShouldBeEmpty();
        request.DefaultWords.ShouldBeEmpty();
    }
}
