using Google.Protobuf;
using Google.Protobuf.WellKnownTypes;
using Istio.Mixer.V1;
using Mixer.Sdk;

namespace Mixer.Sdk.Tests;

/// <summary>
/// The batch mixs makes when no rule acts on Report: sets only checked, decoded if ever asked.
/// It must accept exactly the requests the decoding batch accepts, refuse the others with the same
/// error, and, once asked for its bags, give the same bags.
/// </summary>
public sealed class ReportBatchCheckedTests
{
    private static int G(string word) => GlobalDictionary.IndexOf(word);

    // The outcome of one mode: accepted with its bags ("name=value" per set), or the error.
    private static string Outcome(byte[] request, bool decode)
    {
        var valid = decode
            ? ReportBatch.TryCreate(request, out var batch, out var error)
            : ReportBatch.TryCreate(request.AsMemory(), decode: false, out batch, out error);
        if (!valid)
        {
            return "error: " + error;
        }

        try
        {
            var sets = new List<string>();
            foreach (var bag in batch.Bags())
            {
                sets.Add(string.Join(" ", bag.Names.Order(StringComparer.Ordinal).Select(n => bag.TryGet(n, out var v) ? $"{n}={v}" : $"{n}?")));
            }

            return $"{batch.Count} sets: " + string.Join(" | ", sets);
        }
        finally
        {
            batch.Release();
        }
    }

    private static void BothModesAgree(ReportRequest request, bool valid)
    {
        var bytes = request.ToByteArray();
        var decoded = Outcome(bytes, decode: true);
        var checkedOnly = Outcome(bytes, decode: false);

        checkedOnly.ShouldBe(decoded);
        decoded.StartsWith("error: ", StringComparison.Ordinal).ShouldBe(!valid, decoded);
    }

    // A sidecar-like delta report: global names, values in default_words, a string map per set.
    private static ReportRequest Sidecar(int sets)
    {
        var request = new ReportRequest { GlobalWordCount = 203 };
        request.DefaultWords.Add("reviews.default.svc.cluster.local");
        request.DefaultWords.Add("x-request-id");
        for (var i = 0; i < sets; i++)
        {
            request.DefaultWords.Add($"id-{i}");
            var set = new CompressedAttributes
            {
                Strings = { [G("request.id")] = -3 - i },
                Timestamps = { [G("request.time")] = new Timestamp { Seconds = 1_764_000_000 + i, Nanos = i } },
                Durations = { [G("response.duration")] = new Duration { Nanos = 1_000 + i } },
                StringMaps = { [G("request.headers")] = new Istio.Mixer.V1.StringMap { Entries = { [-2] = -3 - i, [G(":path")] = -1 } } },
            };
            if (i == 0)
            {
                set.Strings[G("destination.service.host")] = -1;
                set.Int64S[G("response.code")] = 200;
                set.Bools[G("connection.mtls")] = true;
                set.Doubles[-2] = 0.5;
                set.Bytes[G("source.ip")] = ByteString.CopyFrom(10, 0, 0, 1);
            }

            request.Attributes.Add(set);
        }

        return request;
    }

    [Fact]
    public void ValidSidecarReport_IsAccepted_AndDecodesOnDemandToTheSameBags()
    {
        // 100 sets: the later ones name words with two-byte indexes.
        BothModesAgree(Sidecar(100), valid: true);
    }

    [Fact]
    public void InvalidSetLateInTheBatch_RejectsTheWholeReport_WithTheSameError()
    {
        var request = Sidecar(50);
        request.Attributes[47].Strings[G("request.path")] = -9_999;

        BothModesAgree(request, valid: false);
        Outcome(request.ToByteArray(), decode: false).ShouldContain("attributes[47]: word index -9999");
    }

    public static TheoryData<string> Breakages() =>
    [
        "value word beyond both lists",
        "value word beyond our dictionary, within the client's",
        "attribute twice by global word",
        "attribute twice, once by a message word that is a global word",
        "attribute twice by a message word that is no global word",
        "timestamp nanos out of range",
        "timestamp seconds out of range",
        "duration of mixed signs",
        "string map key beyond the words",
        "string map value beyond the words",
        "name beyond both lists",
        "own words that lack the index",
    ];

    [Theory]
    [MemberData(nameof(Breakages))]
    public void BrokenSet_IsRefusedAlike(string breakage)
    {
        var request = Sidecar(5);
        var set = request.Attributes[3];
        switch (breakage)
        {
            case "value word beyond both lists": set.Strings[G("request.path")] = -500; break;
            case "value word beyond our dictionary, within the client's": request.GlobalWordCount = 250; set.Strings[G("request.path")] = 220; break;
            case "attribute twice by global word": set.Int64S[G("request.id")] = 1; break;
            case "attribute twice, once by a message word that is a global word": request.DefaultWords.Add("request.id"); set.Int64S[-1 - (request.DefaultWords.Count - 1)] = 1; break;
            case "attribute twice by a message word that is no global word": set.Doubles[-2] = 1; set.Bools[-2] = true; break;
            case "timestamp nanos out of range": set.Timestamps[G("request.time")] = new Timestamp { Seconds = 1, Nanos = 1_000_000_000 }; break;
            case "timestamp seconds out of range": set.Timestamps[G("request.time")] = new Timestamp { Seconds = 253_402_300_800 }; break;
            case "duration of mixed signs": set.Durations[G("response.duration")] = new Duration { Seconds = 1, Nanos = -1 }; break;
            case "string map key beyond the words": set.StringMaps[G("request.headers")].Entries[-700] = -1; break;
            case "string map value beyond the words": set.StringMaps[G("request.headers")].Entries[-1] = 700; break;
            case "name beyond both lists": set.Int64S[-900] = 1; break;
            case "own words that lack the index": set.Words.Add("own"); break;
            default: throw new ArgumentException(breakage);
        }

        BothModesAgree(request, valid: false);
    }

    [Fact]
    public void SetsTheQuickCheckLeavesToTheLoader_AreStillAccepted()
    {
        var request = Sidecar(4);

        // Own words, a message-word name that is a global word, a name the client knows and we do
        // not (not seen, its bad value never read), unknown fields.
        request.Attributes[1].Words.Add("request.path");
        request.Attributes[1].Words.Add("/own");
        request.Attributes[1].Strings.Clear();
        request.Attributes[1].Strings[-1] = -2;
        request.Attributes[1].Timestamps.Clear();
        request.Attributes[1].Durations.Clear();
        request.Attributes[1].StringMaps.Clear();
        request.DefaultWords.Add("source.namespace");
        request.Attributes[2].Strings[-1 - (request.DefaultWords.Count - 1)] = -1;
        request.GlobalWordCount = 300;
        request.Attributes[3].Strings[250] = 280;
        var bytes = request.ToByteArray().Concat(new byte[] { 0xa0, 0x06, 0x01 }).ToArray();

        var decoded = Outcome(bytes, decode: true);
        Outcome(bytes, decode: false).ShouldBe(decoded);
        decoded.ShouldStartWith("4 sets: ");
        decoded.ShouldContain("request.path=/own");
    }

    // 6 sets: every word index one byte; 80 sets: later ones two (the check's short paths).
    [Theory]
    [InlineData(6, 4000)]
    [InlineData(80, 1500)]
    public void CorruptedBytes_AreJudgedAlike(int sets, int changes)
    {
        // Thousands of one- or two-byte changes of a valid report: whatever the decoding batch
        // says (accepted with these bags, or this error), the checking one says the same.
        var original = Sidecar(sets).ToByteArray();
        var random = new Random(20261201 + sets);
        var accepted = 0;
        for (var n = 0; n < changes; n++)
        {
            var bytes = (byte[])original.Clone();
            for (var k = random.Next(1, 3); k > 0; k--)
            {
                bytes[random.Next(bytes.Length)] = (byte)random.Next(256);
            }

            var decoded = Outcome(bytes, decode: true);
            Outcome(bytes, decode: false).ShouldBe(decoded, $"change {n}");
            accepted += decoded.StartsWith("error: ", StringComparison.Ordinal) ? 0 : 1;
        }

        // Both kinds were seen.
        accepted.ShouldBeInRange(changes / 40, changes - (changes / 40));
    }

    [Fact]
    public void CheckedBatch_Released_LeavesNothingForTheNext()
    {
        var first = Sidecar(3).ToByteArray();
        ReportBatch.TryCreate(first.AsMemory(), decode: false, out var batch, out var error).ShouldBeTrue(error);
        batch.Count.ShouldBe(3);
        batch.Release();

        var second = new ReportRequest { DefaultWords = { "z" }, Attributes = { new CompressedAttributes { Int64S = { [-1] = 9 } } } };

        Outcome(second.ToByteArray(), decode: false).ShouldBe("1 sets: z=9");
    }
}
