using Grpc.Core;
using Istio.Mixer.V1;

namespace Mixer.Client;

/// <summary>
/// Turns typed attribute sets (<see cref="Attributes"/>) into the wire's
/// <see cref="CompressedAttributes"/>: every name, string value and string-map key and value
/// becomes a word index, global (<c>i &gt;= 0</c>) for the first <see cref="GlobalWordCount"/>
/// words of <see cref="GlobalDictionary"/>, otherwise a word of the message's own list
/// (<c>-1 - i</c>). Thread-safe; one instance serves a whole client.
/// </summary>
/// <remarks>
/// As Istio's proxy does, a client that is told its dictionary is not understood
/// (<see cref="IsInvalidDictionaryError"/>) calls <see cref="ShrinkToBase"/> and from then on uses
/// only the first <see cref="BaseGlobalWordCount"/> words, which every Mixer knows.
/// </remarks>
public sealed class AttributeCompressor
{
    /// <summary>The size of the first global dictionary (Istio's <c>kGlobalDictionaryBaseSize</c>).</summary>
    public const int BaseGlobalWordCount = 111;

    private int _globalWordCount;

    /// <summary>A compressor that uses the whole global dictionary (<see cref="GlobalDictionary.Count"/> words).</summary>
    public AttributeCompressor()
        : this(GlobalDictionary.Count)
    {
    }

    /// <summary>A compressor that uses the first <paramref name="globalWordCount"/> global words (0: none, as Istio's mixc).</summary>
    /// <exception cref="ArgumentOutOfRangeException">The count is negative or above <see cref="GlobalDictionary.Count"/>.</exception>
    public AttributeCompressor(int globalWordCount)
    {
        ArgumentOutOfRangeException.ThrowIfNegative(globalWordCount);
        ArgumentOutOfRangeException.ThrowIfGreaterThan(globalWordCount, GlobalDictionary.Count);
        _globalWordCount = globalWordCount;
    }

    /// <summary>How many global words are used; what requests carry as <c>global_word_count</c>.</summary>
    public int GlobalWordCount => Volatile.Read(ref _globalWordCount);

    /// <summary>From now on use at most the first <see cref="BaseGlobalWordCount"/> global words.</summary>
    public void ShrinkToBase()
    {
        int current;
        while ((current = Volatile.Read(ref _globalWordCount)) > BaseGlobalWordCount
            && Interlocked.CompareExchange(ref _globalWordCount, BaseGlobalWordCount, current) != current)
        {
        }
    }

    /// <summary>
    /// True for the answer a Mixer gives when it cannot read the word indexes it was sent
    /// (INVALID_ARGUMENT with a message starting "Request could not be processed due to invalid",
    /// the test Istio's proxy makes before it shrinks its dictionary).
    /// </summary>
    public static bool IsInvalidDictionaryError(Status status) =>
        status.StatusCode == StatusCode.InvalidArgument
        && status.Detail.StartsWith("Request could not be processed due to invalid", StringComparison.Ordinal);

    /// <summary>Compresses one attribute set, with its own message words.</summary>
    /// <exception cref="ArgumentException">An attribute has no value set.</exception>
    public CompressedAttributes Compress(Attributes attributes) => Compress(attributes, GlobalWordCount);

    /// <summary>A Check request for <paramref name="attributes"/> with this compressor's <c>global_word_count</c>.</summary>
    /// <exception cref="ArgumentException">An attribute has no value set.</exception>
    public CheckRequest CreateCheckRequest(Attributes attributes, string deduplicationId = "")
    {
        // Read the count once, so the request's indexes and its global_word_count agree even if
        // the dictionary shrinks meanwhile.
        var count = GlobalWordCount;
        return new CheckRequest
        {
            Attributes = Compress(attributes, count),
            GlobalWordCount = (uint)count,
            DeduplicationId = deduplicationId ?? string.Empty,
        };
    }

    private static CompressedAttributes Compress(Attributes attributes, int globalWordCount)
    {
        ArgumentNullException.ThrowIfNull(attributes);
        AttributeEncoder.Validate(attributes);
        var words = new WordTable(globalWordCount);
        var result = new CompressedAttributes();
        foreach (var (name, value) in attributes.Attributes_)
        {
            AttributeEncoder.Put(result, words, name, value);
        }

        result.Words.AddRange(words.Words);
        return result;
    }

    /// <summary>An empty delta-encoded report batch.</summary>
    public ReportBatchBuilder CreateReportBatch() => new(this);

    /// <summary>
    /// Encodes <paramref name="sets"/> into as few delta-encoded Report requests as it can, each of
    /// at most <paramref name="maxSetsPerRequest"/> sets; a new request starts wherever a set lacks
    /// an attribute the set before it had (see <see cref="ReportBatchBuilder.TryAdd(Attributes)"/>).
    /// </summary>
    public IReadOnlyList<ReportRequest> CreateReportRequests(IEnumerable<Attributes> sets, int maxSetsPerRequest = 1000)
    {
        ArgumentNullException.ThrowIfNull(sets);
        ArgumentOutOfRangeException.ThrowIfLessThan(maxSetsPerRequest, 1);
        var requests = new List<ReportRequest>();
        var batch = CreateReportBatch();
        foreach (var set in sets)
        {
            if (!batch.TryAdd(set))
            {
                requests.Add(batch.Build());
                batch.TryAdd(set);
            }

            if (batch.Count == maxSetsPerRequest)
            {
                requests.Add(batch.Build());
            }
        }

        if (batch.Count > 0)
        {
            requests.Add(batch.Build());
        }

        return requests;
    }
}
