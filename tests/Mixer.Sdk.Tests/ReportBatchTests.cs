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
}
