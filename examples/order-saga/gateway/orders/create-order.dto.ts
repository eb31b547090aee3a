// The body of POST /orders. Core checks it against the JSON Schema these decorators make before
// the handler runs: a 400 lists every failing field, and no saga is started.

import { IsInt, IsNumber, IsOptional, IsPositive, IsString, Matches, Min, MinLength } from '@omnitron-dev/native';

export class CreateOrderDto {
  /** The order's id, also its saga's run id (posting it again answers the same run). Default: made up. */
  @IsOptional()
  @IsString()
  @Matches('^[A-Za-z0-9._-]{1,128}$')
  id?: string;

  @IsString()
  @MinLength(1)
  sku!: string;

  @IsInt()
  @Min(1)
  qty!: number;

  @IsNumber()
  @IsPositive()
  amount!: number;

  @IsString()
  address!: string;
}

/** An order as its saga receives it: the id is always there. */
export type Order = CreateOrderDto & { id: string };
