using Google.Protobuf;
using Istio.Mixer.V1;

namespace Mixer.Sdk;

/// <summary>
/// The attribute sets of one <see cref="ReportRequest"/>, every index checked up front. With
/// DELTA_ENCODING (Istio 1.0's only semantics) each set is applied on top of all the sets before
/// it; with INDEPENDENT_ENCODING each stands alone.
/// </summary>
/// <remarks>
/// Read straight from the request's bytes: every set is checked and its attributes kept as
/// decoded values in one array; <see cref="Bags"/> then updates a single bag in place from set to
/// set. Nothing refers to the request's bytes once the batch is made, and no object is built per
/// set, which is what made Report's decoding cost more than the rest of a report.
/// </remarks>
public sealed class ReportBatch
{
    /// <summary>How an error about bytes that are not a <c>ReportRequest</c> starts.</summary>
    public const string UndecodablePrefix = "request message could not be decoded as ReportRequest: ";

    private const int FieldAttributes = 1;
    private const int FieldDefaultWords = 2;
    private const int FieldGlobalWordCount = 3;
    private const int FieldSemantics = 4;

    // Beyond these, storage is not kept for the next report.
    private const int RetainedEntries = 1 << 16;
    private const int RetainedSets = 1 << 14;

    [ThreadStatic]
    private static ReportBatch? t_spare;

    private readonly ProtoBag _checking = ProtoBag.ForReuse();
    private readonly ProtoBag _current = ProtoBag.ForReuse();
    private readonly List<string> _defaultWords = [];
    private readonly List<string> _ownWords = [];
    private ProtoBag.Slot[] _entries = new ProtoBag.Slot[64];
    private int[] _starts = new int[17];
    private int _count;
    private bool _delta;

    private ReportBatch()
    {
    }

    /// <summary>Number of attribute sets.</summary>
    public int Count => _count;

    /// <summary>Checks every element of <paramref name="request"/>.</summary>
    /// <param name="request">The request as received.</param>
    /// <param name="batch">The decoded batch when valid.</param>
    /// <param name="error">What is wrong (naming the element) when not.</param>
    public static bool TryCreate(ReportRequest request, out ReportBatch batch, out string? error)
    {
        ArgumentNullException.ThrowIfNull(request);
        return TryCreate(request.ToByteArray(), out batch, out error);
    }

    /// <summary>Checks every element of the encoded <c>ReportRequest</c> in <paramref name="reportRequest"/>.</summary>
    /// <param name="reportRequest">The request's bytes as received.</param>
    /// <param name="batch">The decoded batch when valid.</param>
    /// <param name="error">
    /// What is wrong when not: <see cref="ProtoBag.InvalidAttributesPrefix"/> then <c>attributes[i]: </c>
    /// for a set with bad words or values, <see cref="UndecodablePrefix"/> for bytes that are not a request.
    /// </param>
    public static bool TryCreate(ReadOnlySpan<byte> reportRequest, out ReportBatch batch, out string? error)
    {
        var b = t_spare ?? new ReportBatch();
        t_spare = null;
        try
        {
            if (b.TryLoad(reportRequest, out error))
            {
                batch = b;
                return true;
            }
        }
        catch (WireFormatException e)
        {
            error = UndecodablePrefix + e.Message;
        }

        b.Release();
        batch = null!;
        return false;
    }

    /// <summary>
    /// The attribute sets in order. Under delta encoding one bag is updated in place from set to
    /// set: use each bag before moving to the next, and do not keep it.
    /// </summary>
    public IEnumerable<IAttributeBag> Bags()
    {
        var bag = _current;
        bag.Clear();
        for (var i = 0; i < _count; i++)
        {
            if (!_delta)
            {
                bag.Clear();
            }

            for (var e = _starts[i]; e < _starts[i + 1]; e++)
            {
                bag.Overlay(_entries[e]);
            }

            yield return bag;
        }
    }

    /// <summary>
    /// Hands the batch's storage back for the next report; the batch is empty afterwards. Only for
    /// the owner of a batch nothing else reads any more (mixs, once a Report is answered).
    /// </summary>
    internal void Release()
    {
        // Values already handed out (strings, maps, byte arrays) are never reused: only the
        // arrays that held them are.
        _checking.Clear();
        _current.Clear();
        Array.Clear(_entries, 0, _starts[_count]);
        if (_entries.Length > RetainedEntries)
        {
            _entries = new ProtoBag.Slot[64];
        }

        if (_starts.Length > RetainedSets)
        {
            _starts = new int[17];
        }

        _defaultWords.Clear();
        _ownWords.Clear();
        _count = 0;
        _starts[0] = 0;
        t_spare = this;
    }

    /// <exception cref="WireFormatException">The envelope is not a message.</exception>
    private bool TryLoad(ReadOnlySpan<byte> request, out string? error)
    {
        // The envelope first: default_words and global_word_count may follow the sets they serve.
        uint globalWordCount = 0;
        ulong semantics = 0;
        var sets = 0;
        var r = new WireReader(request);
        while (r.TryReadTag(out var field, out var wireType))
        {
            switch (field, wireType)
            {
                case (FieldAttributes, 2):
                    r.ReadBytes();
                    sets++;
                    break;
                case (FieldDefaultWords, 2):
                    _defaultWords.Add(r.ReadString());
                    break;
                case (FieldGlobalWordCount, 0):
                    globalWordCount = (uint)r.ReadVarint();
                    break;
                case (FieldSemantics, 0):
                    semantics = r.ReadVarint();
                    break;
                default:
                    r.Skip(wireType);
                    break;
            }
        }

        // Any value but DELTA_ENCODING (0) reads each set alone, as the generated enum comparison did.
        _delta = semantics == 0;
        if (_starts.Length < sets + 1)
        {
            _starts = new int[sets + 1];
        }

        _starts[0] = 0;
        var used = 0;
        r = new WireReader(request);
        while (r.TryReadTag(out var field, out var wireType))
        {
            if (field != FieldAttributes || wireType != 2)
            {
                r.Skip(wireType);
                continue;
            }

            _checking.Clear();
            if (!_checking.TryLoad(r.ReadBytes(), _defaultWords, globalWordCount, _ownWords, out error))
            {
                error = error!.StartsWith(ProtoBag.InvalidAttributesPrefix, StringComparison.Ordinal)
                    ? error.Insert(ProtoBag.InvalidAttributesPrefix.Length, $"attributes[{_count}]: ")
                    : $"{UndecodablePrefix}attributes[{_count}]: {error}";
                return false;
            }

            var slots = _checking.Slots;
            if (used + slots.Length > _entries.Length)
            {
                Array.Resize(ref _entries, Math.Max(_entries.Length * 2, used + slots.Length));
            }

            slots.CopyTo(_entries.AsSpan(used));
            used += slots.Length;
            _starts[++_count] = used;
        }

        _checking.Clear();
        error = null;
        return true;
    }
}
