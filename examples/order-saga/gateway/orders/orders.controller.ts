// The orders API (spec 2.5). POST answers 202 Accepted: the order is journaled and its saga runs
// on; GET /orders/:id tells how it is going.

import { ApiOperation, ApiTag, Body, Controller, Get, Param, Post, ResponseStatus, type RunInfo } from '@omnitron-dev/native';
import { CreateOrderDto } from './create-order.dto.js';
import { OrdersService, type OrdersSummary } from './orders.service.js';

@Controller('orders')
@ApiTag('Orders')
export class OrdersController {
  constructor(private readonly orders: OrdersService) {}

  @Post()
  @ResponseStatus(202)
  @ApiOperation({ summary: 'Place an order: its saga is journaled, then runs' })
  async create(@Body() dto: CreateOrderDto): Promise<{ id: string }> {
    return { id: await this.orders.place(dto) };
  }

  @Get(':id')
  @ApiOperation({ summary: "An order's saga: state, stages, attempts, error, times" })
  findOne(@Param('id') id: string): Promise<RunInfo> {
    return this.orders.get(id);
  }

  @Get()
  @ApiOperation({ summary: 'How many orders there are, by state' })
  summary(): Promise<OrdersSummary> {
    return this.orders.summary();
  }
}
