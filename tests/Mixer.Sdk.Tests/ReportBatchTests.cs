using Google.Protobuf;
using Istio.Mixer.V1;
using Mixer.Sdk;
using Semantics = Istio.Mixer.V1.ReportRequest.Types.RepeatedAttributesSemantics;

namespace Mixer.Sdk.Tests;

/// <summary>ReportBatch over hand-written ReportRequests: one bag per attribute set, as the dispatcher sees them.</summary>
public sealed class ReportBatchTests
{
    // Three sets sharing default_words ["a", "b", "x", "y", "c"]:
    //   0: a=1, b="x"      1: a=2            2: b="y", c=true
    private static ReportRequest ThreeSets(Semantics semantics) => new()
    {
        DefaultWords = { "a", "b", "x", "y", "c" },
        GlobalWordCount = 203,
        RepeatedAttributesSemantics = semantics,
        Attributes =
        {
            new CompressedAttributes { Int64S = { [-1] = 1 }, Strings = { [-2] = -3 } },
            new CompressedAttributes { Int64S = { [-1] = 2 } },
            new CompressedAttributes { Strings = { [-2] = -4 }, Bools = { [-5] = true } },
        },
    };

    // Each bag as "name=value" lines; read inside the loop, as the batch says.
    private static List<string> Snapshot(ReportBatch batch)
    {
        var seen = new List<string>();
        foreach (var bag in batch.Bags())
        {
            seen.Add(string.Join(" ", bag.Names.Order(StringComparer.Ordinal).Select(n => bag.TryGet(n, out var v) ? $"{n}={v}" : $"{n}?")));
        }

        return seen;
    }

    private static ReportBatch Batch(ReportRequest request)
    {
        ReportBatch.TryCreate(request, out var batch, out var error).ShouldBeTrue(error);
        return batch;
    }

    [Fact]
    public void DeltaEncoding_EachSetAppliesOnTopOfThoseBefore()
    {
        var batch = Batch(ThreeSets(Semantics.DeltaEncoding));

        batch.Count.ShouldBe(3);
        Snapshot(batch).ShouldBe(["a=1 b=x", "a=2 b=x", "a=2 b=y c=true"]);
    }

    [Fact]
    public void DeltaEncoding_IsWhatARequestWithoutTheFieldMeans()
    {
        // Istio 1.0 clients never send field 4; its default (0) is DELTA_ENCODING.
        var request = ThreeSets(Semantics.DeltaEncoding);
        var parsed = ReportRequest.Parser.ParseFrom(request.ToByteArray());

        Snapshot(Batch(parsed)).ShouldBe(["a=1 b=x", "a=2 b=x", "a=2 b=y c=true"]);
    }

    [Fact]
    public void IndependentEncoding_EachSetStandsAlone()
    {
        var batch = Batch(ThreeSets(Semantics.IndependentEncoding));

        Snapshot(batch).ShouldBe(["a=1 b=x", "a=2", "b=y c=true"]);
    }

    [Fact]
    public void DeltaEncoding_LaterValueOfAnotherType_Replaces()
    {
        var request = new ReportRequest
        {
            DefaultWords = { "a" },
            Attributes =
            {
                new CompressedAttributes { Int64S = { [-1] = 1 } },
                new CompressedAttributes { Strings = { [-1] = 90 } },
            },
        };

        Snapshot(Batch(request)).ShouldBe(["a=1", "a=GET"]);
    }

    [Fact]
    public void Element_WithItsOwnWords_UsesThemInsteadOfTheDefaultWords()
    {
        var request = new ReportRequest
        {
            DefaultWords = { "shared" },
            RepeatedAttributesSemantics = Semantics.IndependentEncoding,
            Attributes =
            {
                new CompressedAttributes { Int64S = { [-1] = 1 } },
                new CompressedAttributes { Words = { "own" }, Int64S = { [-1] = 2 } },
            },
        };

        Snapshot(Batch(request)).ShouldBe(["shared=1", "own=2"]);
    }

    [Fact]
    public void BadIndex_InALaterSet_FailsNamingTheSet()
    {
        var request = ThreeSets(Semantics.DeltaEncoding);
        request.Attributes[2].Int64S[-6] = 1;

        ReportBatch.TryCreate(request, out _, out var error).ShouldBeFalse();

        error.ShouldNotBeNull();
        error.ShouldStartWith(ProtoBag.InvalidAttributesPrefix + "attributes[2]: ");
        error.ShouldContain("word index -6");
    }

    [Fact]
    public void Empty_HasNoSets()
    {
        var batch = Batch(new ReportRequest());

        batch.Count.ShouldBe(0);
        batch.Bags().ShouldBeEmpty();
    }

    // Hand-written bytes: field (number << 3 | wire type), then the value.
    private static byte[] Bytes(params byte[] b) => b;

    [Fact]
    public void Bytes_DefaultWordsAfterTheSets_StillNameTheirAttributes()
    {
        // attributes { int64s { -1: 7 } } then default_words "late", global_word_count 203.
        var request = Bytes(0x0a, 0x06, 0x1a, 0x04, 0x08, 0x01, 0x10, 0x07, 0x12, 0x04, (byte)'l', (byte)'a', (byte)'t', (byte)'e', 0x18, 0xcb, 0x01);

        ReportBatch.TryCreate(request, out var batch, out var error).ShouldBeTrue(error);

        Snapshot(batch).ShouldBe(["late=7"]);
    }

    [Fact]
    public void Bytes_NotAMessage_IsUndecodable()
    {
        // Field 1, length-delimited, claims 50 bytes but only 2 follow.
        ReportBatch.TryCreate(Bytes(0x0a, 50, 1, 2), out _, out var error).ShouldBeFalse();

        error.ShouldNotBeNull();
        error.ShouldStartWith(ReportBatch.UndecodablePrefix);
    }

    [Fact]
    public void Bytes_ASetThatIsNotAMessage_IsUndecodableNamingTheSet()
    {
        var good = new CompressedAttributes { Int64S = { [-1] = 1 } }.ToByteArray();
        var request = new List<byte> { 0x0a, (byte)good.Length };
        request.AddRange(good);

        // The second set: an int64s entry claiming 9 bytes where 1 follows.
        request.AddRange([0x0a, 0x03, 0x1a, 0x09, 0x08]);
        request.AddRange([0x12, 0x01, (byte)'a']);

        ReportBatch.TryCreate(request.ToArray(), out _, out var error).ShouldBeFalse();

        error.ShouldNotBeNull();
        error.ShouldStartWith(ReportBatch.UndecodablePrefix + "attributes[1]: ");
    }

    [Fact]
    public void DeltaEncoding_AttributeTwiceInOneSet_IsRefused_ButLaterSetsMayReplaceIt()
    {
        var twice = new ReportRequest
        {
            DefaultWords = { "a" },
            Attributes =
            {
                new CompressedAttributes { Int64S = { [-1] = 1 } },
                new CompressedAttributes { Int64S = { [-1] = 2 }, Strings = { [-1] = -1 } },
            },
        };

        ReportBatch.TryCreate(twice, out _, out var error).ShouldBeFalse();

        error.ShouldNotBeNull();
        error.ShouldStartWith(ProtoBag.InvalidAttributesPrefix + "attributes[1]: ");
        error.ShouldContain("more than once");
    }

    [Fact]
    public void DeltaEncoding_KeepsEveryValueTypeExactly_ThroughLaterSets()
    {
        static int G(string word) => GlobalDictionary.IndexOf(word);
        var first = new CompressedAttributes
        {
            Words = { "/a", "x-user", "jason" },
            Strings = { [G("request.path")] = -1 },
            Int64S = { [G("response.code")] = 200 },
            Doubles = { [G("request.size")] = 1.5 },
            Bools = { [G("connection.mtls")] = true },
            Timestamps = { [G("request.time")] = new Google.Protobuf.WellKnownTypes.Timestamp { Seconds = 1_533_038_400, Nanos = 123_456_700 } },
            Durations = { [G("response.duration")] = Google.Protobuf.WellKnownTypes.Duration.FromTimeSpan(TimeSpan.FromMilliseconds(7)) },
            Bytes = { [G("source.ip")] = ByteString.CopyFrom(10, 0, 0, 1) },
            StringMaps = { [G("request.headers")] = new Istio.Mixer.V1.StringMap { Entries = { [-2] = -3 } } },
        };
        var second = new CompressedAttributes { Int64S = { [G("response.code")] = 503 } };
        var request = new ReportRequest { GlobalWordCount = 203, Attributes = { first, second } };

        var bags = Snapshot(Batch(request));

        bags[1].ShouldBe(bags[0].Replace("response.code=200", "response.code=503", StringComparison.Ordinal));
        bags[0].ShouldContain("request.time=2018-07-31T12:00:00.1234567Z");
        bags[0].ShouldContain("response.duration=7ms");
        bags[0].ShouldContain("request.headers=");
        bags[0].ShouldContain("jason");
    }

    [Fact]
    public void Released_TheNextRequestSeesOnlyItsOwnAttributes()
    {
        // mixs hands a batch's storage back after each report: nothing of one may show in the next.
        var first = Batch(ThreeSets(Semantics.DeltaEncoding));
        Snapshot(first).Count.ShouldBe(3);
        first.Release();

        var request = new ReportRequest
        {
            DefaultWords = { "z" },
            Attributes = { new CompressedAttributes { Int64S = { [-1] = 9 } }, new CompressedAttributes { Int64S = { [-1] = 10 } } },
        };
        var second = Batch(request);

        Snapshot(second).ShouldBe(["z=9", "z=10"]);
    }
}
