namespace Mixer.Sdk;

/// <content>
/// What <see cref="ReportBatch"/> needs of a bag: one reused to check each attribute set of a
/// report in turn, and one reused as the accumulated view the dispatcher reads, updated in place
/// from set to set (delta encoding) without building anything per set.
/// </content>
public sealed partial class ProtoBag
{
    /// <summary>An empty bag that a report batch fills and empties again for each set.</summary>
    internal static ProtoBag ForReuse() => new(32, null);

    /// <summary>The attributes, in the order they were added.</summary>
    internal ReadOnlySpan<Slot> Slots => _slots.AsSpan(0, _count);

    /// <summary>Empties the bag, keeping its storage.</summary>
    internal void Clear()
    {
        if (_count == 0 && _nonGlobal == 0 && !_scanGlobal)
        {
            return;
        }

        // Only the indexed words in use are set: clear those, not all 256.
        for (var i = 0; i < _count; i++)
        {
            if ((uint)_slots[i].GlobalIndex < IndexedGlobalWords)
            {
                _byGlobal[_slots[i].GlobalIndex] = 0;
            }
        }

        Array.Clear(_slots, 0, _count);
        _count = 0;
        _nonGlobal = 0;
        _scanGlobal = false;
    }

    /// <summary>
    /// Loads one encoded attribute set into this (empty) bag with every check of <c>TryCreate</c>:
    /// its own <c>words</c> when it has some, else <paramref name="defaultWords"/>.
    /// </summary>
    /// <param name="compressedAttributes">The set's bytes.</param>
    /// <param name="defaultWords">The report's <c>default_words</c>.</param>
    /// <param name="globalWordCount">The client's <c>global_word_count</c>.</param>
    /// <param name="ownWords">Scratch for the set's own words (their strings end up in the bag, not the list).</param>
    /// <param name="error">What is wrong, as <c>TryCreate</c> says it.</param>
    internal bool TryLoad(ReadOnlySpan<byte> compressedAttributes, IReadOnlyList<string> defaultWords, uint globalWordCount, List<string> ownWords, out string? error)
    {
        try
        {
            ownWords.Clear();
            var r = new WireReader(compressedAttributes);
            while (r.TryReadTag(out var field, out var wireType))
            {
                if (field == FieldWords && wireType == 2)
                {
                    ownWords.Add(r.ReadString());
                }
                else
                {
                    r.Skip(wireType);
                }
            }

            return Load(compressedAttributes, ownWords.Count > 0 ? ownWords : defaultWords, globalWordCount, out error);
        }
        catch (WireFormatException e)
        {
            error = UndecodablePrefix + e.Message;
            return false;
        }
    }

    /// <summary>Sets an attribute checked before (<see cref="TryLoad"/>), replacing the one of the same name if any: delta encoding.</summary>
    internal void Overlay(in Slot slot)
    {
        var at = -1;
        var global = slot.GlobalIndex;
        if (global >= 0)
        {
            if ((uint)global < IndexedGlobalWords && !_scanGlobal)
            {
                at = _byGlobal[global] - 1;
            }
            else
            {
                for (var i = 0; i < _count; i++)
                {
                    if (_slots[i].GlobalIndex == global)
                    {
                        at = i;
                        break;
                    }
                }
            }
        }
        else
        {
            for (var i = 0; _nonGlobal > 0 && i < _count; i++)
            {
                if (_slots[i].GlobalIndex < 0 && string.Equals(_slots[i].Name, slot.Name, StringComparison.Ordinal))
                {
                    at = i;
                    break;
                }
            }
        }

        if (at >= 0)
        {
            _slots[at] = slot;
            return;
        }

        if (_count == _slots.Length)
        {
            Array.Resize(ref _slots, _slots.Length * 2);
        }

        if (global < 0)
        {
            _nonGlobal++;
        }
        else if ((uint)global < IndexedGlobalWords)
        {
            if (_count < byte.MaxValue)
            {
                _byGlobal[global] = (byte)(_count + 1);
            }
            else
            {
                _scanGlobal = true;
            }
        }

        _slots[_count++] = slot;
    }
}
